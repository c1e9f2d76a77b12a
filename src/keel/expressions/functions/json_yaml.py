"""FN functions: json_yaml (being written)."""
