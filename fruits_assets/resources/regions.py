"""The GDPR guard: buckets and EMR clusters must live in an EU region (``eu-*``)."""

from __future__ import annotations

OVERRIDE_HINT = "set FRUITS_ALLOW_NON_EU_REGION=1 only if no personal data is involved"


class RegionError(ValueError):
    """A bucket or cluster outside the EU, refused before any work."""


def bucket_region(client, bucket: str) -> str:
    """The bucket's real region, from GetBucketLocation (None there means us-east-1)."""
    return client.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"


def require_eu(region: str, what: str, allow_non_eu: bool = False) -> str:
    """Return ``region`` if it is in the EU (or the override is on); raise otherwise."""
    if region.startswith("eu-") or allow_non_eu:
        return region
    raise RegionError(
        f"{what} is in {region}, outside the EU. Fruits! keeps its data in EU regions "
        f"(eu-west-1, eu-west-3, ...) for GDPR; move it there, or {OVERRIDE_HINT}."
    )


def require_eu_bucket(client, bucket: str, allow_non_eu: bool = False) -> str:
    return require_eu(bucket_region(client, bucket), f"The bucket s3://{bucket}", allow_non_eu)
