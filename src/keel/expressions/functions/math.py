"""FN functions: math (being written)."""
