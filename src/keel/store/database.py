"""The database: an async engine built from the settings, sessions, and migrations on start.

Use one :class:`Database` per process::

    db = Database.from_settings(get_settings())
    await db.migrate()                      # Alembic ``upgrade head``; idempotent
    async with db.session() as session:     # commits on success, rolls back on error
        row = await workflows.get_workflow(session, "triage")
    await db.dispose()
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from keel.config import Settings, private_file
from keel.errors import ConfigError

#: Alembic's bookkeeping table; named for Keel so a shared database cannot confuse it.
VERSION_TABLE = "keel_alembic_version"

#: Key of the PostgreSQL advisory lock that serialises migrations of concurrent processes.
MIGRATION_LOCK_KEY = 0x6B65656C_6D696772  # "keelmigr"

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic keeps its running context in module globals, so two upgrades in one process must not
# interleave (they would swap connections mid-way): one lock per event loop serialises them.
_PROCESS_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def database_url(settings: Settings) -> str:
    """Return the store's SQLAlchemy URL: ``KEEL_DATABASE_URL``, or ``<home>/keel.db`` (SQLite).

    A URL without an async driver (``postgresql://``, ``sqlite:///``) gets Keel's driver added
    (asyncpg, aiosqlite).
    """
    if not settings.database_url:
        home = settings.home.expanduser().resolve()
        return f"sqlite+aiosqlite:///{home / 'keel.db'}"
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"KEEL_DATABASE_URL is not a database URL: {exc}") from exc
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConfigError(
            f"KEEL_DATABASE_URL uses '{url.drivername}'; Keel supports PostgreSQL "
            "(postgresql+asyncpg://) and SQLite (sqlite+aiosqlite://)"
        )
    if url.drivername == backend:
        url = url.set(drivername=_ASYNC_DRIVERS[backend])
    return url.render_as_string(hide_password=False)


class Database:
    """Keel's database: an async engine, a session factory and the migrations.

    Args:
        url: A SQLAlchemy async URL (``sqlite+aiosqlite:///...``, ``postgresql+asyncpg://...``).
        connect_args: Extra arguments for the driver's ``connect`` (e.g. asyncpg
            ``server_settings``).
        echo: Log every SQL statement (never enable where secrets are written: it logs
            parameters, and those include ciphertexts).
        pooled: Keep connections open between uses. Without a pool every session opens and
            closes its own connection, so nothing is left to dispose (for rare users such as
            the external-storage driver, which lives as long as a Temporal client).
    """

    def __init__(
        self,
        url: str,
        *,
        connect_args: Mapping[str, Any] | None = None,
        echo: bool = False,
        pooled: bool = True,
    ) -> None:
        self.url: URL = make_url(url)
        if self.is_sqlite:
            self._create_sqlite_folder()
        pool: dict[str, Any] = {"poolclass": NullPool}
        if pooled:
            # A server connection can die between uses (a restart, an idle timeout): ping it on
            # checkout. A SQLite file cannot, so its ping would be a wasted SELECT 1 per session.
            pool = {"pool_pre_ping": not self.is_sqlite}
        self.engine: AsyncEngine = create_async_engine(
            self.url, connect_args=dict(connect_args or {}), echo=echo, **pool
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Return the database the settings name (see :func:`database_url`)."""
        return cls(database_url(settings))

    @property
    def is_sqlite(self) -> bool:
        """Return whether this is a SQLite database."""
        return self.url.get_backend_name() == "sqlite"

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session in a transaction: commit when the block ends, roll back if it raises."""
        async with self._sessions.begin() as session:
            yield session

    async def migrate(self) -> None:
        """Bring the schema up to date (Alembic ``upgrade head``); a no-op when it already is.

        Processes that start together take turns (a PostgreSQL advisory lock held by the
        upgrade's transaction; a lock file beside a SQLite file): the first migrates, the others
        find the schema current. Safe to call on every start.
        """
        loop = asyncio.get_running_loop()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(_PROCESS_LOCKS.setdefault(loop, asyncio.Lock()))
            sqlite_file = self._sqlite_file() if self.is_sqlite else None
            if sqlite_file is not None:
                await stack.enter_async_context(_file_lock(sqlite_file))
            connection = await stack.enter_async_context(self.engine.begin())
            if not self.is_sqlite:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_upgrade)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.dispose()

    def _sqlite_file(self) -> Path | None:
        database = self.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).expanduser()

    def _create_sqlite_folder(self) -> None:
        """Create the SQLite file (0600) in its folder (0700): it holds webhook digests, keys."""
        path = self._sqlite_file()
        if path is not None:
            private_file(path)


class LazyDatabase:
    """A database opened and migrated on first use, for services most runs never touch.

    The stores a worker keeps beside Temporal (offloaded payloads, seen keys) use one of these, so
    a run that needs neither opens no connection. From the settings it is unpooled
    (``pooled=False``): nothing stays open between uses, so nothing needs closing when the process
    ends.

    Args:
        open_database: Returns the database (unmigrated); called once, on first use.
    """

    def __init__(self, open_database: Callable[[], Database]) -> None:
        self._open = open_database
        self._database: Database | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LazyDatabase:
        """Return the (not yet opened) database the settings name, unpooled."""
        url = database_url(settings)
        return cls(lambda: Database(url, pooled=False))

    async def get(self) -> Database:
        """Return the database, opening and migrating it the first time."""
        async with self._lock:
            if self._database is None:
                database = self._open()
                await database.migrate()
                self._database = database
            return self._database


def upsert_insert(session: AsyncSession) -> Any:
    """Return the ``insert`` of the session's database that supports ``ON CONFLICT`` upserts.

    PostgreSQL and SQLite each have their own (``on_conflict_do_update``, ``excluded``); the
    statements built with either are the same.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert
    return sqlite_insert


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic configuration for Keel's migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


@asynccontextmanager
async def _file_lock(database: Path) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``<database>.migrate.lock`` (other processes wait for it)."""
    fd = os.open(database.with_name(database.name + ".migrate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Turn on foreign keys (for cascades), WAL (readers beside a writer) and a busy timeout.

    ``synchronous=NORMAL`` is the setting WAL is meant to run with: a commit no longer waits for
    an fsync of the log (only checkpoints do). The database stays consistent after any crash,
    and a crash of Keel loses nothing; only a power loss or OS crash may forget the last
    commits before it (runs themselves live in Temporal, and their summaries are refreshed
    from it). Use PostgreSQL where that matters.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
