"""Keel's core actions (the registry's ``core`` namespace)."""
