"""FN functions: network (being written)."""
