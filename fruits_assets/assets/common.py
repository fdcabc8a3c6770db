"""Helpers shared by the asset declarations."""


import base64

from dagster import AssetExecutionContext, MetadataValue

from ..resources import LakeResource
from ..spark_jobs.layout import check_partition_key

SPARK_POOL = "spark"  # dagster.yaml limits it to one step at a time
OWNERS = ["team:fruits-data"]
LAKE_ASSET = {"io_manager_key": "lake_io_manager", "group_name": "fruits", "owners": OWNERS}
ASSET_KWARGS = {**LAKE_ASSET, "pool": SPARK_POOL}  # the Spark-backed assets


def selected_classes(context: AssetExecutionContext, lake: LakeResource) -> list[str]:
    """The run's fruit classes, validated, after checking the lake is writable."""
    classes = [check_partition_key(k) for k in context.partition_keys]
    lake.store().check_writable()
    return classes


def png_markdown(images: dict[str, bytes]) -> MetadataValue:
    """PNGs embedded in markdown (the UI shows them inline), each under its title."""
    parts = [f"**{title}**\n\n![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"
             for title, png in images.items()]
    return MetadataValue.md("\n\n".join(parts))


def runtime_metadata(metrics: dict) -> dict:
    """Where the job ran when not in this process: EMR cluster id, step id, console link,
    cores, and the step's estimated cost (labelled as such)."""
    shown = {}
    for key, value in metrics.get("runtime", {}).items():
        if value is None:
            continue
        if key == "estimated_cost_usd":
            shown["estimated_cost_usd (estimate: instance-hours x on-demand list prices)"] = MetadataValue.float(value)
        else:
            shown[key] = MetadataValue.url(value) if key.endswith("_url") else value
    return shown


def run_metadata(metrics: dict, count_key: str) -> dict:
    """Counts, speed, duration and runtime every image asset reports."""
    count = metrics.get(count_key, 0)
    rate = float(metrics.get("images_per_second") or metrics.get("files_per_second") or 0.0)
    cores = metrics.get("runtime", {}).get("cluster_cores")
    per_core = {"images_per_second_per_core": MetadataValue.float(round(rate / cores, 3))} if cores else {}
    return {
        count_key: MetadataValue.int(int(count)),
        "seconds": MetadataValue.float(float(metrics.get("seconds", 0.0))),
        "images_per_second": MetadataValue.float(rate),
        **per_core,
        **runtime_metadata(metrics),
    }
