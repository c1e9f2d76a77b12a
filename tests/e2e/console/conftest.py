"""Fixtures of the console's browser tests: a real uvicorn serving the app, and a real Chromium.

The app runs over a migrated SQLite store, the session's Temporal dev server and a worker on the
test's own task queue, served by uvicorn on a free loopback port in the test's event loop. The
browser is Debian's chromium (``/usr/bin/chromium``) driven by Playwright; no browser is ever
downloaded. Screenshots go to ``tests/artifacts/console/`` (not committed).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from temporalio.client import Client

from keel.api.app import create_app
from keel.api.catalog import StoreCatalog
from keel.api.state import ServiceState
from keel.execution.local import LocalExecutor
from keel.orchestration.worker import build_worker
from keel.store import apikeys
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Console:
    """A served console: its base URL, an API key, and an API client with that key."""

    url: str
    key: str
    api: httpx.AsyncClient


@pytest.fixture
async def console(
    tmp_path: Path, temporal_client: Client, task_queue: str
) -> AsyncIterator[Console]:
    """The app with its console, served by a real uvicorn on a free loopback port."""
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as database:
        await database.migrate()
        async with database.session() as session:
            key = (await apikeys.create_api_key(session, "console tests")).key
        cipher = SecretCipher("a passphrase for the console tests, long enough to be a key")
        state = ServiceState(database, cipher, temporal_client, task_queue, eager=True)
        worker = build_worker(
            temporal_client,
            task_queue,
            LocalExecutor(),
            StoreSecrets(database, cipher),
            catalog=StoreCatalog(database),
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(state), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        async with worker:
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                await asyncio.sleep(0.02)
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {key}"}
            try:
                async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
                    yield Console(url, key, api)
                    await state.relay.close()  # finish the starts of runs a test accepted last
            finally:
                server.should_exit = True
                await serving
                sock.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless chromium, once per session."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page (its own cookies) at 1280x800."""
    context = await browser.new_context(viewport=DESKTOP)
    tab = await context.new_page()
    yield tab
    await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as a test artifact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, console: Console) -> None:
    """Sign in to the console with the test's API key."""
    await page.goto(f"{console.url}/ui/login")
    await page.fill("#api_key", console.key)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/workflows")
