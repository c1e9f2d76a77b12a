"""Persistence: SQLAlchemy tables, sessions and one module of functions per resource.

- :mod:`keel.store.database` builds the engine from the settings, opens sessions and migrates.
- :mod:`keel.store.tables` declares the tables; ``migrations/`` creates them (Alembic).
- One module of plain async functions per resource, each taking a session first:
  :mod:`~keel.store.workflows`, :mod:`~keel.store.webhooks`, :mod:`~keel.store.schedules`,
  :mod:`~keel.store.secrets` (with :mod:`~keel.store.crypto`), :mod:`~keel.store.variables`,
  :mod:`~keel.store.apikeys`, :mod:`~keel.store.runs`.
"""

from keel.store.database import Database, database_url

__all__ = ["Database", "database_url"]
