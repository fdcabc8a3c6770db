"""PCA: a pyspark.ml PCAModel of the features, and every image's coordinates as one CSV matrix."""
