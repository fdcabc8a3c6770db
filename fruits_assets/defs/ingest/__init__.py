"""Ingest: the images of each fruit class into the lake, and every file that could not be used."""
