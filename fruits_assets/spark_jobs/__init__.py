"""Pure PySpark jobs: ingest, featurize, PCA and data-quality queries.

Nothing here imports Dagster. Each job takes a SparkSession, lake and source
locations and plain parameters, writes its output and returns a metrics dict, so
the same code runs in-process or as an EMR step (see ``__main__``).
"""
