"""What a local session is configured for, seen in the work Spark does."""

import os


def test_many_source_folders_are_listed_in_one_task_per_core(spark, tmp_path):
    folders = []
    for i in range(40):  # over Spark's threshold of 32 paths, so the listing is a Spark job
        folder = tmp_path / f"class {i}"
        folder.mkdir()
        (folder / "0.jpg").write_bytes(b"x")
        folders.append(f"file://{folder}")
    spark.sparkContext.setJobGroup("listing", "listing")
    assert spark.read.format("binaryFile").load(folders).count() == 40
    tracker = spark.sparkContext.statusTracker()
    listing_job = min(tracker.getJobIdsForGroup("listing"))
    tasks = [tracker.getStageInfo(stage).numTasks for stage in tracker.getJobInfo(listing_job).stageIds]
    assert tasks == [min(40, len(os.sched_getaffinity(0)))]
