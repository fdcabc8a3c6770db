"""notebooks/explore.ipynb runs top to bottom against a lake built by ``fruits-assets run``,
without starting a JVM."""

import nbformat
from nbclient import NotebookClient

from fruits_assets import sample
from fruits_assets_tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "explore.ipynb"


def test_every_cell_of_the_notebook_runs(pipeline_run, monkeypatch, tmp_path):
    _, _, _, env = pipeline_run
    for name in ("FRUITS_HOME", "FRUITS_LAKE", "DAGSTER_HOME"):
        monkeypatch.setenv(name, env[name])  # the kernel inherits this process's environment
    monkeypatch.setenv("FRUITS_SPARK_MASTER", "unusable")  # a master no Spark session can start with
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "every code cell ran"
    text = "".join(o.get("text", "") for cell in code for o in cell.outputs)
    assert f"{len(sample.CLASSES)} fruit classes" in text and "Test accuracy" in text
    assert "partitioned by ['label']" in text
    images = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "thumbnails, scree plot and scatter are drawn"
