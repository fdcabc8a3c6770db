"""docs/development.md's example: a derived asset is one new file in a domain folder. The
file is taken from the page itself, added to a copy of the package, loaded with the rest
of the definitions and materialized on a lake, so the page cannot drift from the code."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from fruits_assets_tests.conftest import REPO, project_env

pytestmark = pytest.mark.fast

PAGE = REPO / "docs" / "development.md"
EXAMPLE = re.compile(r"```python\n# (fruits_assets/defs/\S+\.py)\n(.*?)```", re.S)

LOAD_AND_MATERIALIZE = """
import json, sys
from dagster import AssetKey, materialize
import fruits_assets
from fruits_assets.definitions import defs
from fruits_assets.defs.ingest.class_balance import class_balance
from fruits_assets.resources import LakeResource

graph = defs().resolve_asset_graph()
node = graph.get(AssetKey("class_balance"))
result = materialize([class_balance], resources={"lake": LakeResource(root=sys.argv[1])})
metadata = result.asset_materializations_for_node("class_balance")[0].metadata
print(json.dumps({
    "package": fruits_assets.__file__,
    "parents": sorted(k.to_user_string() for k in node.parent_keys),
    "owners": list(node.owners),
    "classes": metadata["classes"].value,
    "balance": [dict(r.data) for r in metadata["balance"].value.records],
}))
"""


def test_the_documented_derived_asset_is_one_new_file(tmp_path):
    (path, code), = EXAMPLE.findall(PAGE.read_text())
    copy = tmp_path / "project"
    shutil.copytree(REPO / "fruits_assets", copy / "fruits_assets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy)  # where Dagster finds the project's defs/ folder
    (copy / path).write_text(code)
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "tables" / "raw_images"), pa.table({
        "label": ["Apple 6", "Apple 6", "Apple 6", "Kiwi"],
        "split": ["Training", "Training", "Test", "Training"],
    }), partition_by=["label"])

    done = subprocess.run([sys.executable, "-c", LOAD_AND_MATERIALIZE, str(lake)], cwd=copy, capture_output=True,
                          text=True, timeout=300, env=project_env(PYTHONPATH=str(copy), DAGSTER_HOME=str(tmp_path)))

    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(copy)
    assert found["parents"] == ["raw_images"] and found["owners"]
    assert found["classes"] == 2
    assert found["balance"] == [{"class": "Apple 6", "Training": 2, "Test": 1}, {"class": "Kiwi", "Training": 1, "Test": 0}]
