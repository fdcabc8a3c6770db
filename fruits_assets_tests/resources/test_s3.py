"""The lake, its IO manager, the source and the GDPR guard on S3 (a moto server on loopback)."""

import io

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, build_input_context, build_output_context, build_sensor_context
from dagster_aws.s3 import S3Resource

from fruits_assets_tests.conftest import RANDOM_MODEL
from fruits_assets.resources import MobileNetResource, FruitSource, LakeIOManager, LakeResource, LocalSpark
from fruits_assets.resources.regions import RegionError
from fruits_assets.resources.source import SourceError
from fruits_assets.partitions import range_tags
from fruits_assets.sensors import fruit_class_sensor
from fruits_assets.spark_jobs.layout import TABLES
from fruits_assets.spark_jobs.versioned import COMMITTED
from fruits_assets.upload import upload
from fruits_assets_tests.conftest import make_bucket

pytestmark = pytest.mark.aws


@pytest.fixture
def eu_lake(s3, s3_server) -> LakeResource:
    make_bucket(s3, "fruits-lake", "eu-west-3")
    return LakeResource(root="s3://fruits-lake/prod", s3=S3Resource(endpoint_url=s3_server))


def test_io_manager_round_trip_of_every_small_object(eu_lake, s3):
    manager = LakeIOManager(lake=eu_lake, spark=LocalSpark(), model=MobileNetResource(**RANDOM_MODEL))
    context = build_output_context(asset_key=AssetKey("image_features"), run_id="r1")
    manager.handle_output(context, None)  # what MaterializeResult assets hand it: nothing to store
    with pytest.raises(TypeError, match="return MaterializeResult"):
        manager.handle_output(context, {"rows": 3})

    store = eu_lake.store()
    old, new = f"{TABLES['pca_matrix']}/v=1", f"{TABLES['pca_matrix']}/v=2"
    csv = b"path,label,split,pc_1\na.jpg,Apple 6,Training,0.5\n"
    for version in (old, new):
        store.write_bytes(f"{version}/pca_matrix.csv", csv)
        store.write_bytes(f"{version}/{COMMITTED}", b"")
    store.write_bytes(f"{TABLES['pca_matrix']}/v=3/pca_matrix.csv", b"half-written")  # never committed
    png = b"\x89PNG\r\n\x1a\nfake"
    uri = store.write_bytes(f"{new}/scatter.png", png)

    assert eu_lake.current_version("pca_matrix") == new
    assert eu_lake.read_uri(uri) == png
    loaded = manager.load_input(build_input_context(asset_key=AssetKey("pca_matrix")))
    pd.testing.assert_frame_equal(loaded, pd.read_csv(io.BytesIO(csv), dtype={"pc_1": "float32"}))  # streamed from S3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="fruits-lake")["Contents"]]
    assert all(k.startswith("prod/") for k in keys)


def test_lake_outside_the_eu_is_refused_before_any_write(s3, s3_server):
    make_bucket(s3, "fruits-us", "us-east-1")
    lake = LakeResource(root="s3://fruits-us/lake", s3=S3Resource(endpoint_url=s3_server))
    with pytest.raises(RegionError, match="us-east-1, outside the EU"):
        lake.store().check_writable()
    assert s3.list_objects_v2(Bucket="fruits-us").get("KeyCount", 0) == 0
    LakeResource(root="s3://fruits-us/lake", s3=S3Resource(endpoint_url=s3_server), allow_non_eu_region=True).store().check_writable()


def test_lake_in_eu_west_3_is_accepted(eu_lake, s3):
    eu_lake.store().check_writable()
    head = s3.head_object(Bucket="fruits-lake", Key="prod/.write-probe")
    assert head["ServerSideEncryption"] == "AES256"


def test_source_listing_and_partition_discovery_from_s3(s3, s3_server, real_sample):
    make_bucket(s3, "fruits-source", "eu-west-1")
    upload(real_sample, "s3://fruits-source/fruits-360", s3, progress=False)
    source = FruitSource(root="s3://fruits-source/fruits-360", s3=S3Resource(endpoint_url=s3_server))
    expected = sorted(p.name for p in (real_sample / "Training").iterdir())
    assert source.classes() == expected
    assert source.spark_root == "s3://fruits-source/fruits-360"
    source.require(expected[:2])
    with pytest.raises(SourceError, match="no folder for class\\(es\\) Kiwi From Mars"):
        source.require(["Kiwi From Mars", expected[0]])

    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance, resources={"source": source}) as context:
        tick = fruit_class_sensor(context)
    assert sorted(tick.dynamic_partitions_requests[0].partition_keys) == expected
    [run] = tick.run_requests  # one run over every new class
    assert run.tags == range_tags(expected[0], expected[-1])
    instance.add_dynamic_partitions("fruit_class", expected)
    with build_sensor_context(instance=instance, cursor=tick.cursor, resources={"source": source}) as context:
        quiet = fruit_class_sensor(context)
    assert not getattr(quiet, "run_requests", None)

    s3.put_object(Bucket="fruits-source", Key="fruits-360/Training/Kiwi 9/0_100.jpg", Body=b"x", ServerSideEncryption="AES256")
    with build_sensor_context(instance=instance, cursor=tick.cursor, resources={"source": source}) as context:
        grown = fruit_class_sensor(context)
    assert list(grown.dynamic_partitions_requests[0].partition_keys) == ["Kiwi 9"]


def test_source_outside_the_eu_is_refused(s3, s3_server):
    make_bucket(s3, "fruits-us-source", "us-east-1")
    s3.put_object(Bucket="fruits-us-source", Key="src/Training/Kiwi/1.jpg", Body=b"x", ServerSideEncryption="AES256")
    with pytest.raises(RegionError, match="s3://fruits-us-source is in us-east-1"):
        FruitSource(root="s3://fruits-us-source/src", s3=S3Resource(endpoint_url=s3_server)).classes()


def test_manifests_are_json_objects_with_sse(eu_lake, s3):
    version = eu_lake.commit_objects("fruit_classifier", {"model.joblib": b"m"}, {"accuracy": 0.5})
    head = s3.head_object(Bucket="fruits-lake", Key=f"prod/{version}/{COMMITTED}")
    assert head["ServerSideEncryption"] == "AES256"
    assert eu_lake.manifest("fruit_classifier") == {"accuracy": 0.5}
