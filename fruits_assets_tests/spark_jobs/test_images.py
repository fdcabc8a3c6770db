"""Unit tests of decoding and validation, without Spark."""

import numpy as np
import pytest

from fruits_assets.spark_jobs.images import decode, inspect, reason_for_name
from fruits_assets_tests import corpus

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, real_sample):
    root = corpus.build(real_sample, tmp_path_factory.mktemp("corpus"))
    return root / "Training" / corpus.ODD_CLASS


@pytest.mark.parametrize("name,reason", sorted(corpus.EXPECTED.items()))
def test_inspect_gives_the_expected_reason(odd_files, name, reason):
    width, height, found = inspect(str(odd_files / name), (odd_files / name).read_bytes())
    expected = None if reason == "duplicate" else reason  # duplicates are found across files
    assert found == expected
    assert (width is None) == (expected is not None)


def test_exif_orientation_is_applied(odd_files):
    data = (odd_files / "exif_rotated.jpg").read_bytes()
    assert inspect("x.jpg", data)[:2] == (60, 100)
    pixels = decode(data, 100)
    assert pixels.shape == (100, 100, 3) and pixels.dtype == np.uint8


@pytest.mark.parametrize("name", [n for n, r in corpus.EXPECTED.items() if r is None])
def test_valid_odd_images_decode_to_rgb(odd_files, name):
    pixels = decode((odd_files / name).read_bytes(), 100)
    assert pixels.shape == (100, 100, 3)
    assert 0 < pixels.std()


def test_alpha_is_flattened_on_white(odd_files):
    pixels = decode((odd_files / "alpha.png").read_bytes(), 100)
    assert pixels[:, 0].mean() > 240  # the transparent edge is white, not black


def test_sixteen_bit_is_scaled_not_clipped(odd_files):
    pixels = decode((odd_files / "sixteen_bit.png").read_bytes(), 100)
    assert pixels.max() < 255 or pixels.min() < 250


@pytest.mark.parametrize(
    "path,reason",
    [("a/.hidden.jpg", "hidden_file"), ("a/_tmp.jpg", "hidden_file"), ("a/b.gif", "unsupported_extension"),
     ("a/b.JPEG", None), ("a/b.Png", None)],
)
def test_reason_for_name(path, reason):
    assert reason_for_name(path) == reason


def _full_scale_decode_fails(content: bytes) -> bool:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(content)) as im:
            im.load()
    except Exception:  # noqa: BLE001 - any failure of a full decode
        return True
    return False


def test_reduced_scale_inspection_rejects_what_a_full_decode_rejects(real_sample):
    """``inspect`` decodes JPEGs at 1/8 scale; cut or damaged anywhere, a file it accepts
    must decode at full scale, and one a full decode refuses must be rejected."""
    content = next((real_sample / "Training").glob("*/*.jpg")).read_bytes()
    rng = np.random.default_rng(0)
    variants = [content[:cut] for cut in range(200, len(content), max(1, len(content) // 40))]
    for _ in range(60):
        damaged = bytearray(content)
        at = int(rng.integers(200, len(content) - 2))
        damaged[at : at + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        variants.append(bytes(damaged))
    outcomes = [(inspect("x.jpg", v)[2] is not None, _full_scale_decode_fails(v)) for v in variants]
    assert all(rejected == fails for rejected, fails in outcomes), outcomes
    assert sum(rejected for rejected, _ in outcomes) >= 40, "the cuts must be caught"
