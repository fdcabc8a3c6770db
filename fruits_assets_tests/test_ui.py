"""The Dagster UI in a real browser (Debian's Chromium driven by Playwright), on 250
classes, some with the names users have (a comma, an apostrophe, accents, over 100
characters): the lineage of every asset, a backfill of a range of classes launched from
the UI (the first with a comma and an apostrophe in its name) that materializes exactly
those partitions in one run, and the partitions page. Screenshots go to
``test-artifacts/ui/``."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus

from fruits_assets.partitions import partition_folder
from fruits_assets_tests.conftest import REPO, free_port, graphql, project_env, stop_group, wait_http
from fruits_assets_tests.corpus import many_classes

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"
ODD = ["Cherry, Bing 'dark'", "Pêche  de vigne"]
CLASS_COUNT = 250
CHOSEN = ["Cherry, Bing 'dark'", "Class 000", "Class 001"]  # consecutive: a range
LINEAGE = {
    "raw_images": ([], ["image_features"]),
    "rejected_images": ([], []),
    "mobilenet_v2": ([], ["image_features"]),
    "image_features": (["mobilenet_v2", "raw_images"], ["pca_matrix", "pca_model"]),
    "pca_model": (["image_features"], ["pca_matrix"]),
    "pca_matrix": (["image_features", "pca_model"], ["fruit_classifier"]),
    "fruit_classifier": (["pca_matrix"], []),
}

DONE = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED,
        BulkActionStatus.CANCELED}

pytestmark = pytest.mark.browser


def _mark_community_popup_seen(base: str) -> None:
    """The UI shows a newsletter pop-up on loopback until told it was seen; it would
    cover the dialogs the test clicks in."""
    assert graphql(base, "mutation { setNuxSeen }")["setNuxSeen"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """``dagster dev`` (webserver + daemon) on loopback over 250 small synthetic classes."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it).")
    root = tmp_path_factory.mktemp("ui")
    many_classes(root / "source", CLASS_COUNT, odd=ODD)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = project_env(FRUITS_HOME=str(root), DAGSTER_HOME=str(home), FRUITS_LAKE=str(root / "lake"),
                      FRUITS_SOURCE=str(root / "source"), FRUITS_WEIGHTS="random")
    subprocess.run([sys.executable, "-m", "fruits_assets.cli", "partitions"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    port = free_port()
    dagster = Path(sys.executable).parent / "dagster"
    log = open(root / "dagster-dev.log", "w")
    process = subprocess.Popen([str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/server_info", process)
        _mark_community_popup_seen(f"http://127.0.0.1:{port}")
        os.environ["DAGSTER_HOME"] = str(home)
        yield f"http://127.0.0.1:{port}", DagsterInstance.get(), root
    finally:
        stop_group(process)
        log.close()


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1400, "height": 900})
        browser.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _section(text: str, title: str, end: str) -> list[str]:
    body = text[text.index(title) + len(title) : text.index(end, text.index(title))]
    return sorted({line.strip() for line in body.splitlines() if line.strip() and line.strip() != "–"})


def test_lineage_graph_shows_every_asset(ui, page):
    base, _, _ = ui
    _open(page, f"{base}/asset-groups")
    for asset in LINEAGE:
        page.get_by_text(asset, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "lineage.png"), full_page=True)
    for asset, (upstream, downstream) in LINEAGE.items():
        _open(page, f"{base}/assets/{asset}")
        page.get_by_text("Downstream assets").wait_for(timeout=60_000)
        text = page.inner_text("body")
        assert _section(text, "Upstream assets", "Downstream assets") == upstream, asset
        assert _section(text, "Downstream assets", "Definition") == downstream, asset


def _pick_partition(page, cls: str) -> None:
    """Pick ``cls`` in the launch dialog's partition list. On a loaded machine the dialog
    can re-render after a pick and close the list (CI, once: the item was detached from
    the DOM): then the list is opened again from the partition field."""
    item = page.locator("[role=menuitem]").filter(has=page.get_by_text(cls, exact=True))
    for _ in range(3):
        if not item.is_visible():
            page.locator("[role=dialog] [role=img][aria-label=expand_more]").first.click()  # the field's chevron
        try:
            item.click(timeout=20_000)
            return
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"partition-list-without-{cls}.png"), full_page=True)
    raise AssertionError(f"{cls} could not be picked in the partition list (see the screenshot)")


def test_backfill_of_two_classes_from_the_ui(ui, page):
    base, instance, root = ui
    _open(page, f"{base}/assets/raw_images")
    page.get_by_role("button", name="Materialize", exact=False).first.click()
    page.get_by_text("Additional assets will be materialized").wait_for(timeout=60_000)  # rejected_images, same step
    page.screenshot(path=str(ARTIFACTS / "materialize-both-tables.png"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Launch runs to materialize").first.wait_for(timeout=60_000)
    page.get_by_text("Select a partition or create one").click()
    for cls in CHOSEN:
        _pick_partition(page, cls)
    page.get_by_text("Launch runs to materialize").first.click()  # closes the partition list
    page.get_by_text(f"{len(CHOSEN)} partitions").wait_for(timeout=10_000)
    page.wait_for_timeout(700)  # the list's closing animation, for a clean screenshot
    page.screenshot(path=str(ARTIFACTS / "launch-backfill.png"))
    page.get_by_role("button", name="Launch backfill").click()

    deadline = time.time() + 600
    materialized: set[str] = set()
    while time.time() < deadline:
        materialized = instance.get_materialized_partitions(AssetKey("raw_images"))
        backfills = instance.get_backfills()
        if backfills and backfills[0].status in DONE:
            break
        time.sleep(2)
    assert backfills[0].status == BulkActionStatus.COMPLETED_SUCCESS, (root / "dagster-dev.log").read_text()[-5000:]
    assert materialized == set(CHOSEN)
    runs = instance.get_runs(RunsFilter())
    assert len(instance.get_backfills()) == 1 and len(runs) == 1, "a single-run backfill"
    assert runs[0].tags["dagster/asset_partition_range_start"] == CHOSEN[0]
    assert runs[0].tags["dagster/asset_partition_range_end"] == CHOSEN[-1]
    folders = {p.name for p in (root / "lake" / "tables" / "raw_images").iterdir() if p.name.startswith("label=")}
    assert folders == {partition_folder(c) for c in CHOSEN}

    _open(page, f"{base}/assets/raw_images?view=partitions")
    page.get_by_text(CHOSEN[0]).first.wait_for(timeout=60_000)
    page.get_by_text(f"{CLASS_COUNT} partitions", exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "partitions.png"), full_page=True)
