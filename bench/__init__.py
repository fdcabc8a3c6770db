"""Benchmarks of featurization and PCA (``make bench``; results in docs/benchmarks.md)."""
