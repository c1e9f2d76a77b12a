"""Migrations: from empty, idempotent, equal to tables.py, safe to run from two processes at once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from keel.config import Settings
from keel.errors import ConfigError
from keel.store.database import VERSION_TABLE, Database, database_url
from keel.store.tables import Base

from .conftest import DatabaseFactory

pytestmark = pytest.mark.integration

TABLES = {
    "workflows",
    "workflow_versions",
    "webhooks",
    "schedules",
    "secrets",
    "variables",
    "api_keys",
    "runs",
    "blobs",
    "seen_keys",
    "outbox",
    VERSION_TABLE,
}


def schema_diff(connection: Connection, metadata: sa.MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, metadata))


async def table_names(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def head(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return [row[0] for row in rows]


async def current_schema(database: Database) -> str:
    async with database.engine.connect() as connection:
        return str((await connection.execute(text("SELECT current_schema()"))).scalar_one())


async def test_migrate_from_empty_then_again_is_a_no_op(make_database: DatabaseFactory) -> None:
    async with make_database() as database:
        assert await table_names(database) == set()
        await database.migrate()
        assert await table_names(database) == TABLES
        assert await head(database) == ["0005_outbox"]
        await database.migrate()
        assert await head(database) == ["0005_outbox"]


async def test_migrated_schema_matches_tables(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(schema_diff) == []
        # The comparison can see a difference: one extra column must show up.
        changed = sa.MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(changed)
        changed.tables["runs"].append_column(sa.Column("extra", sa.Integer()))
        diffs = await connection.run_sync(lambda c: schema_diff(c, changed))
        assert [d[0] for d in diffs] == ["add_column"]


async def test_concurrent_migrate_from_two_engines(make_database: DatabaseFactory) -> None:
    async with make_database() as first, make_database() as second:
        await asyncio.gather(first.migrate(), second.migrate())
        assert await head(first) == ["0005_outbox"]
        assert await table_names(second) == TABLES


MIGRATE_SCRIPT = """
import asyncio, sys
from keel.store.database import Database

async def main(url, schema):
    args = {"server_settings": {"search_path": schema}} if schema else {}
    async with Database(url, connect_args=args) as database:
        await database.migrate()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_concurrent_migrate_from_two_processes(make_database: DatabaseFactory) -> None:
    async with make_database() as database:
        url = database.url.render_as_string(hide_password=False)
        schema = "" if database.is_sqlite else await current_schema(database)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                MIGRATE_SCRIPT,
                url,
                schema,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for process in processes:
            _, stderr = await process.communicate()
            assert process.returncode == 0, stderr.decode()
        assert await head(database) == ["0005_outbox"]
        assert await table_names(database) == TABLES


async def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'keel.db'}")
    async with database, database.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"


def test_database_url_from_settings(tmp_path: Path) -> None:
    assert database_url(Settings(home=tmp_path)) == f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}"
    pg = Settings(database_url="postgresql://u:p@db:5432/keel")
    assert database_url(pg) == "postgresql+asyncpg://u:p@db:5432/keel"
    assert database_url(Settings(database_url="sqlite:////x/k.db")) == "sqlite+aiosqlite:////x/k.db"
    with pytest.raises(ConfigError, match="mysql"):
        database_url(Settings(database_url="mysql://db/keel"))
    assert "p@" not in repr(Database("postgresql+asyncpg://u:p@db/keel"))
