"""Fixtures of the store tests: a migrated database per test, on SQLite and on PostgreSQL.

SQLite gets a file in the test's ``tmp_path``; PostgreSQL gets a fresh schema (``t_<hex>``) in
the ``test`` database, selected through ``search_path`` and dropped afterwards. PostgreSQL tests
fail (never skip) when the server is not reachable.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from keel.store.crypto import SecretCipher
from keel.store.database import Database

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

BACKENDS = ["sqlite", "postgresql"]

DatabaseFactory = Callable[[], AbstractAsyncContextManager[Database]]


async def pg_connect() -> asyncpg.Connection:
    """Connect to the test database; fail (never skip) when it is down, saying how to start it."""
    try:
        return await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        problem = repr(exc)
    pytest.fail(
        f"PostgreSQL is not reachable at {PG_DSN} ({problem}); start it with: {PG_START}",
        pytrace=False,
    )


@asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """Create a fresh schema for one test and drop it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    connection = await pg_connect()
    try:
        await connection.execute(f"CREATE SCHEMA {schema}")
        yield schema
    finally:
        await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await connection.close()


def pg_database(schema: str) -> Database:
    """Return a database whose connections work in ``schema``."""
    return Database(PG_URL, connect_args={"server_settings": {"search_path": schema}})


@pytest.fixture(params=BACKENDS)
async def make_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DatabaseFactory]:
    """Return a factory of (unmigrated) databases on one fresh, empty backend.

    Every database the factory opens points at the same SQLite file or PostgreSQL schema, so a
    test can stand for several processes; each is disposed at the end of its ``async with``.
    """
    backend: str = request.param
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}"

        @asynccontextmanager
        async def open_sqlite() -> AsyncIterator[Database]:
            async with Database(url) as database:
                yield database

        yield open_sqlite
        return

    async with pg_schema() as schema:

        @asynccontextmanager
        async def open_pg() -> AsyncIterator[Database]:
            async with pg_database(schema) as database:
                yield database

        yield open_pg


@pytest.fixture
async def db(make_database: DatabaseFactory) -> AsyncIterator[Database]:
    """A migrated, empty database (SQLite or PostgreSQL)."""
    async with make_database() as database:
        await database.migrate()
        yield database


@pytest.fixture(scope="session")
def cipher() -> SecretCipher:
    """A cipher with a fixed passphrase."""
    return SecretCipher("correct horse battery staple, but longer and random in production")
