"""Per-class checks of the ingested tables: pure functions of what ingest measured."""

from __future__ import annotations

from ...spark_jobs.contracts import IngestedClass
from ..shared import Outcome


def every_file_accounted_for(m: IngestedClass) -> Outcome:
    """Each file of the class folders is either ingested or rejected with a reason."""
    return Outcome(m.files == m.ingested + m.rejected, {"files": m.files, "ingested": m.ingested, "rejected": m.rejected})


def unique_image_ids(m: IngestedClass) -> Outcome:
    """No two ingested images of a class have the same content (SHA-256)."""
    return Outcome(m.ingested == m.distinct_ids, {"rows": m.ingested, "distinct_ids": m.distinct_ids})
