"""FN functions: encoding (being written)."""
