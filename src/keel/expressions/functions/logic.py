"""FN functions: logic (being written)."""
