"""Maintenance: files no version needs any more, removed after a documented retention."""
