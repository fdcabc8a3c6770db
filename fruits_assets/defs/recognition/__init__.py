"""Recognition: the first fruit-recognition model, on the PCA matrix."""
