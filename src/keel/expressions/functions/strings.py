"""FN functions: strings (being written)."""
