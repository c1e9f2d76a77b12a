"""``GET /health``: not ``ok`` while Temporal is unreachable; ``degraded`` while a supervised
process is down (as ``keel up`` publishes it in ``stack.json``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.config import Settings, get_settings
from keel.orchestration.connection import connect
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.home import StackInfo
from keel.store.crypto import SecretCipher
from keel.store.database import Database

pytestmark = pytest.mark.integration


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own state folder, seen by the health route through the settings."""
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield (tmp_path / "home").resolve()
    get_settings.cache_clear()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as db:
        await db.migrate()
        yield db


def app_over(database: Database, client: object) -> httpx.AsyncClient:
    cipher = SecretCipher("a passphrase for the health tests, long enough to be a key")
    state = ServiceState(database, cipher, client, "health")  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=create_app(state))
    return httpx.AsyncClient(transport=transport, base_url="http://keel.test")


async def test_health_is_unavailable_while_temporal_is_unreachable(
    home: Path, database: Database, tmp_path: Path
) -> None:
    server = TemporalDevServer(db_file=tmp_path / "temporal.db")
    await server.start()
    try:
        client = await connect(Settings(home=home), server.address)
        async with app_over(database, client) as http:
            up = await http.get("/health")
            assert up.status_code == 200
            assert up.json()["status"] == "ok" and up.json()["temporal"] == "ok"
            await server.stop()
            down = await http.get("/health")
            assert down.status_code == 503
            assert down.json()["status"] == "unavailable"
            assert down.json()["temporal"] == "unreachable"
    finally:
        await server.stop()


async def test_health_lists_supervised_processes_and_is_degraded_while_one_is_down(
    home: Path, database: Database, temporal_client: object
) -> None:
    home.mkdir(parents=True)
    info = StackInfo(pid=os.getpid(), address="127.0.0.1:1")
    info.processes = {
        "api": {"pid": 1, "state": "running", "restarts": 0},
        "worker-1": {"pid": None, "state": "restarting", "restarts": 2, "last_exit": -9},
    }
    info.write(home)
    async with app_over(database, temporal_client) as http:
        degraded = (await http.get("/health")).json()
        assert degraded["status"] == "degraded"
        assert degraded["processes"]["worker-1"] == info.processes["worker-1"]
        info.processes["worker-1"] = {"pid": 2, "state": "running", "restarts": 2}
        info.write(home)
        assert (await http.get("/health")).json()["status"] == "ok"
