"""The VARS cache of the API: reused within its interval, read again after it, off at 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.api.run_variables import VariablesCache
from keel.store import variables
from keel.store.database import Database

pytestmark = pytest.mark.integration


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def set_team(database: Database, name: str) -> None:
    async with database.session() as session:
        await variables.set_variable(session, "team", {"name": name})


async def test_a_write_elsewhere_is_seen_after_the_interval(tmp_path: Path) -> None:
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as database:
        await database.migrate()
        clock = Clock()
        cache = VariablesCache(2.0, clock)
        await set_team(database, "blue")
        assert await cache.get(database, "default") == {"team": {"name": "blue"}}
        await set_team(database, "red")  # as another API process would: this cache not told
        clock.now += 1.9
        assert await cache.get(database, "default") == {"team": {"name": "blue"}}
        clock.now += 0.2
        assert await cache.get(database, "default") == {"team": {"name": "red"}}
        assert await cache.get(database, "prod") == {}
        await set_team(database, "green")
        cache.clear()
        assert await cache.get(database, "default") == {"team": {"name": "green"}}

        uncached = VariablesCache(0, clock)
        assert await uncached.get(database, "default") == {"team": {"name": "green"}}
        await set_team(database, "black")
        assert await uncached.get(database, "default") == {"team": {"name": "black"}}
