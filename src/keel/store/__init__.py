"""Persistence: SQLAlchemy tables, sessions and one module of functions per resource."""
