"""The lake, its IO manager, the source and the GDPR guard on S3 (a moto server on loopback)."""

import pickle

import pandas as pd
import pytest
from dagster import AssetMaterialization, DagsterInstance, build_sensor_context
from dagster_aws.s3 import S3Resource

from fruits_assets.defs.ingest.assets import RAW_IMAGES
from fruits_assets.defs.ingest.sensors import fruit_class_sensor
from fruits_assets.defs.pca.assets import PCA_MATRIX
from fruits_assets.defs.recognition.assets import FRUIT_CLASSIFIER
from fruits_assets.partitions import range_tags
from fruits_assets.resources import FruitSource, LakeResource
from fruits_assets.resources.regions import RegionError
from fruits_assets.resources.source import SourceError
from fruits_assets.upload import upload
from fruits_assets_tests.conftest import make_bucket

pytestmark = pytest.mark.aws


@pytest.fixture
def eu_lake(s3, s3_server) -> LakeResource:
    make_bucket(s3, "fruits-lake", "eu-west-3")
    return LakeResource(root="s3://fruits-lake/prod", s3=S3Resource(endpoint_url=s3_server))


def test_the_io_manager_loads_the_files_the_latest_materializations_name(eu_lake, s3, project, tmp_path):
    csv = b"path,label,split,pc_1\na.jpg,Apple 6,Training,0.5\n"
    store = eu_lake.store()
    old, new = (store.write_bytes(f"exports/pca_matrix/{v}/pca_matrix.csv", csv.replace(b"0.5", b"0." + v.encode()))
                for v in ("1", "2"))
    model = store.write_bytes("models/fruit_classifier/v/model.joblib", pickle.dumps({"a": 1}))
    defs, instance = project("s3://fruits-lake/prod"), DagsterInstance.ephemeral()
    for asset, uri in ((PCA_MATRIX, old), (PCA_MATRIX, new), (FRUIT_CLASSIFIER, model)):
        instance.report_runless_asset_event(AssetMaterialization(asset_key=asset, metadata={"dagster/uri": uri}))
    loaded = defs.load_asset_value(PCA_MATRIX, instance=instance)
    expected = pd.DataFrame({"path": ["a.jpg"], "label": ["Apple 6"], "split": ["Training"], "pc_1": [0.2]})
    pd.testing.assert_frame_equal(loaded, expected.astype({"pc_1": "float32"}))  # streamed from S3
    assert defs.load_asset_value(FRUIT_CLASSIFIER, instance=instance) == {"a": 1}
    assert all(o["Key"].startswith("prod/") for o in s3.list_objects_v2(Bucket="fruits-lake")["Contents"])


def test_lake_outside_the_eu_is_refused_before_any_write(s3, s3_server):
    make_bucket(s3, "fruits-us", "us-east-1")
    lake = LakeResource(root="s3://fruits-us/lake", s3=S3Resource(endpoint_url=s3_server))
    with pytest.raises(RegionError, match="us-east-1, outside the EU"):
        lake.check_ready()
    assert s3.list_objects_v2(Bucket="fruits-us").get("KeyCount", 0) == 0
    LakeResource(root="s3://fruits-us/lake", s3=S3Resource(endpoint_url=s3_server), allow_non_eu_region=True).check_ready()


def test_lake_in_eu_west_3_is_accepted_and_its_files_encrypted(eu_lake, s3):
    eu_lake.check_ready()
    assert s3.head_object(Bucket="fruits-lake", Key="prod/.write-probe")["ServerSideEncryption"] == "AES256"
    eu_lake.store().write_bytes("models/mobilenet_v2/x.bin", b"network")
    assert s3.head_object(Bucket="fruits-lake", Key="prod/models/mobilenet_v2/x.bin")["ServerSideEncryption"] == "AES256"
    assert eu_lake.delta_table(RAW_IMAGES) is None and eu_lake.read_table(RAW_IMAGES, ["label"]) is None


def test_source_listing_and_partition_discovery_from_s3(s3, s3_server, real_sample):
    make_bucket(s3, "fruits-source", "eu-west-1")
    upload(real_sample, "s3://fruits-source/fruits-360", s3, progress=False)
    source = FruitSource(root="s3://fruits-source/fruits-360", s3=S3Resource(endpoint_url=s3_server))
    expected = sorted(p.name for p in (real_sample / "Training").iterdir())
    assert source.class_names() == expected
    assert source.spark_root == "s3://fruits-source/fruits-360"
    listed = source.files(expected[:2])
    local = sorted(p.relative_to(real_sample).as_posix() for c in expected[:2] for p in real_sample.glob(f"*/{c}/*"))
    assert sorted(f.relative for files in listed.values() for f in files) == local
    assert sorted(f.relative for f in source.files(expected)[expected[0]]) == sorted(f.relative for f in listed[expected[0]])
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
        FruitSource(root="s3://fruits-us-source/src", s3=S3Resource(endpoint_url=s3_server)).class_names()
