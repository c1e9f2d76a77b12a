"""Keel: durable workflow automation. Workflows are YAML DAGs of actions, run on Temporal."""

__version__ = "0.1.0"
