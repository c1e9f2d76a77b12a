"""FN functions: collections (being written)."""
