"""FN functions: time (being written)."""
