"""The ingest checks: pure functions of what ingest measured."""

import pytest

from fruits_assets.defs.ingest import checks
from fruits_assets.spark_jobs.contracts import IngestedClass

pytestmark = pytest.mark.fast


def _measured(files=5, ingested=4, distinct_ids=4, rejected=1) -> IngestedClass:
    return IngestedClass(files=files, ingested=ingested, distinct_ids=distinct_ids, rejected=rejected,
                         rejected_by_reason={"empty_file": rejected}, thumbnails=None)


def test_every_file_is_ingested_or_rejected():
    assert checks.every_file_accounted_for(_measured()).passed
    outcome = checks.every_file_accounted_for(_measured(files=6))
    assert not outcome.passed and outcome.metadata == {"files": 6, "ingested": 4, "rejected": 1}


def test_two_rows_with_one_content_fail_unique_ids():
    assert checks.unique_image_ids(_measured()).passed
    assert not checks.unique_image_ids(_measured(distinct_ids=3)).passed
