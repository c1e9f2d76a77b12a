"""Temporal orchestration: the client, the DAG-walking workflow, activities and the worker."""
