"""Shared fixtures: one local Spark session, the real sample, a cached model."""

import shutil
from pathlib import Path

import pytest

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.layout import MODEL_CACHE
from fruits_assets.spark_jobs.session import build_session

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "fruits-360-sample"
RANDOM_MODEL = {"weights": "random", "seed": 7}


@pytest.fixture(scope="session")
def spark():
    session = build_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_sample() -> Path:
    if not (SHARED_SAMPLE / "Training").is_dir():
        pytest.fail(f"The real Fruits-360 sample is expected at {SHARED_SAMPLE} (see DEVELOPERS.md).")
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory, spark) -> Path:
    """A lake model cache holding the seeded-random LiteRT and Keras bundles, built once."""
    from fruits_assets.spark_jobs.featurize import load_bundle
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.versioned import VersionedLake

    lake = tmp_path_factory.mktemp("model-lake")
    for backend in ("litert", "keras"):
        load_bundle(VersionedLake(spark, f"file://{lake}"), ModelSpec(**RANDOM_MODEL, backend=backend))
    return lake / MODEL_CACHE


def seed_lake(root: Path, model_cache: Path) -> Path:
    """``root`` as a new lake whose model cache is already filled."""
    shutil.copytree(model_cache, root / MODEL_CACHE)
    return root


@pytest.fixture
def lake(tmp_path, model_cache) -> Path:
    return seed_lake(tmp_path / "lake", model_cache)


def lake_uri(path: Path) -> str:
    return f"file://{path}"


def run_images(spark, source: Path, lake: Path, classes: list[str], model=None) -> tuple[dict, dict]:
    """Ingest and featurize ``classes``; return both jobs' metrics."""
    ingested = jobs.run(
        spark, "ingest", {"source_root": f"file://{source}", "lake_root": lake_uri(lake), "classes": classes}
    )
    featurized = jobs.run(
        spark, "featurize", {"lake_root": lake_uri(lake), "classes": classes, "model": model or RANDOM_MODEL}
    )
    return ingested, featurized
