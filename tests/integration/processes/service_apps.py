"""Helpers of the tests that open one API process's app in the test's own process.

:func:`opened_service` opens the :class:`~keel.processes.service.ServiceApp` uvicorn would serve
(its orchestrating worker included) against the session's dev server and a SQLite file of the
test, and closes it after.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from keel.config import Settings
from keel.processes.service import ServiceApp


@contextlib.asynccontextmanager
async def opened_service(
    tmp_path: Path, temporal_address: str, task_queue: str, **settings: Any
) -> AsyncIterator[ServiceApp]:
    """Open an API process's app with ``settings`` over the defaults; close it after."""
    app = ServiceApp(
        Settings(
            home=tmp_path / "home",
            temporal_address=temporal_address,
            task_queue=task_queue,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}",
            secret_key="a passphrase for the API process tests, long enough",
            **settings,
        )
    )
    await app.open()
    try:
        yield app
    finally:
        await app.close()
