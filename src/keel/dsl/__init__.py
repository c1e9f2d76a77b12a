"""The workflow format: YAML/JSON documents loaded into a typed model, and their graph checks.

Pure: imports no Temporal, Ray, SQLAlchemy, FastAPI or httpx, and nothing of Keel but
``keel.expressions`` and ``keel.errors``.
"""
