"""A refit after a new class reads only that class's features and adds their moments to
those the previous fit kept; after a change to a class already fitted, or with
``force``, it reads every class. Either way the model is a fit from scratch's, to rounding."""

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from dagster import AssetKey, DagsterInstance

from fruits_assets.partitions import range_tags
from fruits_assets.spark_jobs.pca_model import FittedPCA
from fruits_assets.spark_jobs.tables import SPLITS

CLASSES = ["Cherry 1", "Tomato 1", "Apple Red 1"]


def test_a_refit_reads_only_the_classes_the_previous_fit_lacks(project, lake, tmp_path, real_sample):
    source = tmp_path / "source"

    def add(classes: list[str]) -> None:
        for split in SPLITS:
            for cls in classes:
                shutil.copytree(real_sample / split / cls, source / split / cls)

    add(CLASSES[:2])
    defs, instance = project(lake, source), DagsterInstance.ephemeral()
    images = defs.resolve_job_def("images_by_class")

    def ingest(classes: list[str], **config) -> None:
        instance.add_dynamic_partitions("fruit_class", classes)
        run_config = {"ops": {op: {"config": config} for op in ("raw_images", "image_features")}} if config else {}
        assert images.execute_in_process(instance=instance, tags=range_tags(classes[0], classes[-1]),
                                         run_config=run_config).success

    def fit(k: int = 5, force: bool = False) -> tuple[dict, np.ndarray]:
        result = defs.resolve_job_def("refit_model").execute_in_process(
            instance=instance, asset_selection=[AssetKey("pca_model")],
            run_config={"ops": {"pca_model": {"config": {"k": k, "force": force}}}})
        metadata = {k: v.value for k, v in result.asset_materializations_for_node("pca_model")[0].metadata.items()}
        (part,) = (Path(metadata["dagster/uri"]) / "data").glob("part-*.parquet")
        return metadata, FittedPCA.from_data(pq.read_table(part)).components

    ingest(CLASSES[:2])
    first, _ = fit()
    assert first["read_classes"] == 2 and first["train_rows"] == 80
    add(CLASSES[2:])
    ingest(CLASSES[2:])
    extended, added = fit()
    assert extended["read_classes"] == 1 and extended["train_rows"] == 120, "only the new class is read"
    scratch, from_scratch = fit(force=True)
    assert scratch["read_classes"] == 3 and scratch["train_rows"] == 120
    np.testing.assert_allclose(added, from_scratch, atol=1e-9)
    np.testing.assert_allclose(extended["explained_variance"], scratch["explained_variance"], rtol=1e-9)
    assert fit(k=6)[0]["read_classes"] == 0, "another k: no row is read again"
    ingest(CLASSES[:1], force=True)  # the class's feature files are rewritten
    assert fit(k=6)[0]["read_classes"] == 3, "a class already fitted changed: every class is read"
