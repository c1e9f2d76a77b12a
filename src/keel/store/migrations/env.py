"""Alembic's environment for Keel: runs on the connection :meth:`Database.migrate` passes in.

Keel migrates programmatically (``keel.store.database.Database.migrate``), never through the
``alembic`` command line, so this file only supports that path: a live connection in
``config.attributes["connection"]``, already inside the transaction the caller opened.
"""

from __future__ import annotations

from alembic import context

from keel.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Keel's migrations run through keel.store.Database.migrate(), not the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=context.config.attributes["version_table"],
    # SQLite cannot ALTER most things; batch mode rebuilds tables when a later revision must.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
