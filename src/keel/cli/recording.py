"""Recording ``keel run``'s runs in Keel's store, so ``keel runs list`` and the console show them.

A run started from a file is recorded (trigger ``cli``, no stored workflow) in the store these
settings name: ``KEEL_DATABASE_URL``, else the embedded default (SQLite in ``KEEL_HOME``). That is
the store a ``keel up`` of the same folder serves, and ``keel run`` without one keeps its Temporal
state in the same folder, so every run started here shows in ``keel runs list`` and the console,
whether ``keel up`` was running then or is started later.

The summary row is written once Temporal has accepted the run, and its final status is written
when the run ends (read from Temporal, as the API does), so it is right even when no API ever
refreshes it. Recording is a courtesy: a store that cannot be written is reported as a warning and
never fails or hides the run.
"""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.client import Client

from keel.config import Settings
from keel.orchestration.home import StackInfo
from keel.orchestration.inspection import run_state
from keel.store import runs
from keel.store.database import Database
from keel.store.runs import FINAL_STATUSES

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RunningStack:
    """A ``keel up`` running for this folder, as its ``stack.json`` describes it.

    Attributes:
        address: Its Temporal frontend.
        api_url: Its HTTP API (and console) base URL, when it records one.
    """

    address: str
    api_url: str | None


def running_stack(settings: Settings) -> RunningStack | None:
    """Return the ``keel up`` of ``settings.home`` if one is running (its Temporal answers)."""
    info = StackInfo.read(Path(settings.home))  # what keel up publishes (keel.orchestration.home)
    if info is None or not _listening(info.address):
        return None
    api_url = info.api_url.rstrip("/") if isinstance(info.api_url, str) else None
    return RunningStack(info.address, api_url)


def cli_run_id(name: str) -> str:
    """Return a new run id that names the file it ran (``run-<12 hex digits>-<stem>``).

    The random part comes first, so a short prefix tells runs of the same file apart (tables
    show run ids by their shortest unique prefix).
    """
    stem = _UNSAFE.sub("-", name).strip("-.")[:40] or "file"
    return f"run-{uuid.uuid4().hex[:12]}-{stem}"


class RunRecorder:
    """Writes the summary row of one ``keel run`` in the store, and its final status."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.warnings: list[str] = []
        self._recorded = False

    @classmethod
    def for_settings(cls, settings: Settings) -> RunRecorder:
        """Return a recorder on the store ``settings`` name (configured, else the default)."""
        return cls(Database.from_settings(settings))

    async def started(self, execution_id: str, at: datetime) -> None:
        """Record that run ``execution_id`` (a run of a file, from the CLI) started ``at``.

        ``at`` is taken before the start: an eager run may have ended by the time this is
        written, and its end must not come before its start.
        """
        try:
            await self.database.migrate()
            async with self.database.session() as session:
                await runs.record_run_start(
                    session,
                    execution_id,
                    workflow_id=None,
                    version=None,
                    trigger_type="cli",
                    started_at=at,
                )
            self._recorded = True
        except Exception as exc:  # a store failure must not fail the run
            self.warnings.append(f"the run was not recorded in the store: {_reason(exc)}")

    async def ended(self, client: Client, execution_id: str) -> None:
        """Write the run's final status, end time and error (as Temporal reports them)."""
        if not self._recorded:
            return
        try:
            state = await run_state(client, execution_id)
            if state.status not in FINAL_STATUSES:
                return  # still running (the command was interrupted): the API refreshes it
            async with self.database.session() as session:
                await runs.update_run_status(
                    session,
                    execution_id,
                    state.status,  # type: ignore[arg-type]  # checked against FINAL_STATUSES
                    ended_at=state.ended_at,
                    error=state.error,
                )
        except Exception as exc:  # a store failure must not hide the result
            self.warnings.append(f"the run's end was not recorded in the store: {_reason(exc)}")

    async def close(self) -> None:
        """Release the store's connections."""
        await self.database.dispose()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _listening(address: str) -> bool:
    """Return whether something accepts connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False
