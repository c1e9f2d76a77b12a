"""Keel as users run it: one ``keel api`` process and ``keel worker`` processes, for the bench.

:class:`KeelStack` starts ``python -m keel.cli.main api --processes 1`` (no worker, no eager
start: runs are dispatched to the workers, as ``keel up`` runs them) and N ``keel worker``
processes, each a real child process with its own ``KEEL_*`` environment, against the bench's
dev server, on a task queue of its own and a SQLite store in a temporary ``KEEL_HOME``. It
applies workflows through the API as a user would and reads the CPU time of the API and worker
process trees from ``/proc`` (the Temporal server is not among them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from keel.orchestration.devserver import free_port
from keel.processes.up import WORKER_NICE

REPO = Path(__file__).resolve().parents[1]
#: Seconds to wait for the API process to answer ``/health``.
START_TIMEOUT = 90.0
#: Seconds after the API answers for the workers to start polling.
WORKER_SETTLE = 2.0
_TICKS = os.sysconf("SC_CLK_TCK")


class KeelStack:
    """A running ``keel api`` with its ``keel worker`` processes.

    Args:
        address: The Temporal dev server's address.
        folder: A temporary folder for ``KEEL_HOME`` and the processes' logs.
        src: A Keel ``src/`` folder to run (``None``: this checkout's).
        env: More ``KEEL_*`` settings for every process of the stack.
    """

    def __init__(
        self,
        address: str,
        folder: Path,
        src: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        paths = [src or str(REPO / "src"), str(REPO)]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths),
            "KEEL_TEMPORAL_ADDRESS": address,
            "KEEL_HOME": str(folder / "home"),
            "KEEL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
            "KEEL_SECRET_KEY": "a passphrase for the benchmark stack, not a secret",
            "KEEL_HTTP_ALLOW_PRIVATE": "true",
            "KEEL_API_PORT": str(self.port),
            **(env or {}),
        }
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.key = ""

    def _start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.folder / log).open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "keel.cli.main", *args],
                env=self.env,
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own group, so stopping it stops uvicorn's server processes too.
                start_new_session=True,
            )

    async def start(self, workers: int) -> None:
        """Make the API key, start the API and ``workers`` workers; return once they serve."""
        made = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "keel.cli.main", "apikey", "create"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"keel apikey create failed: {made.stderr.strip()[-500:]}")
        self.key = made.stdout.strip()
        self.api = self._start(["api", "--port", str(self.port), "--processes", "1"], "api.log")
        for _ in range(workers):
            self.add_worker()
        await self._wait_ready()

    def add_worker(self) -> None:
        """Start one more ``keel worker`` on the stack's task queue."""
        # As `keel up` starts them: at a lower CPU priority than the API and Temporal.
        args = ["worker", "--nice", str(WORKER_NICE)]
        self.workers.append(self._start(args, f"worker-{len(self.workers) + 1}.log"))

    async def settle(self) -> None:
        """Wait for newly started workers to import Keel and poll (no readiness signal exists)."""
        await asyncio.sleep(WORKER_SETTLE)
        for child in [self.api, *self.workers]:
            if child is not None and child.poll() is not None:
                raise RuntimeError(f"a Keel process exited with {child.returncode}: {self._logs()}")

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                assert self.api is not None
                if self.api.poll() is not None:
                    code = self.api.returncode
                    raise RuntimeError(f"keel api exited with {code}: {self._logs()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/health")).status_code < 500:
                        await self.settle()
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"keel api did not answer within {START_TIMEOUT:.0f} s: {self._logs()}")

    def _logs(self) -> str:
        tails = []
        for log in sorted(self.folder.glob("*.log")):
            tails.append(f"{log.name}: " + log.read_text(errors="replace")[-400:])
        return " | ".join(tails)

    def client(self, limits: httpx.Limits) -> httpx.AsyncClient:
        """Return an HTTP client of the API with the stack's key."""
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=120)

    async def apply(self, http: httpx.AsyncClient, text: str, alias: str) -> str:
        """Apply a workflow with a webhook trigger through the API; return its webhook path."""
        applied = await http.post("/workflows/apply", json={"yaml": text, "alias": alias})
        if applied.status_code >= 300:
            raise RuntimeError(f"apply {alias}: {applied.status_code} {applied.text[:300]}")
        webhook_url = str(applied.json()["webhook_url"])
        return "/webhooks/" + webhook_url.split("/webhooks/", 1)[1]

    def cpu(self) -> float:
        """Return the CPU seconds used so far by the API and worker process trees."""
        roots = [child.pid for child in [self.api, *self.workers] if child is not None]
        return tree_cpu(roots)

    async def stop(self) -> None:
        """Stop every process of the stack (SIGTERM, then SIGKILL after 30 s)."""
        children = [child for child in [self.api, *self.workers] if child is not None]
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                await asyncio.to_thread(child.wait, 30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                await asyncio.to_thread(child.wait)


@contextlib.asynccontextmanager
async def running(
    address: str,
    folder: Path,
    workers: int,
    src: str | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[KeelStack]:
    """Run a :class:`KeelStack` with ``workers`` workers for the ``with`` block; stop it after."""
    stack = KeelStack(address, folder, src, env)
    try:
        await stack.start(workers)
        yield stack
    finally:
        await stack.stop()


def machine_cpu() -> tuple[int, int]:
    """Return the machine's busy and total CPU time so far, in clock ticks (``/proc/stat``).

    Busy is everything but idle and I/O wait, summed over all cores; two readings give the
    share of the machine that was busy between them.
    """
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(part) for part in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    # guest time is counted inside user time already (proc(5)), so only the first 8 fields add up.
    total = sum(ticks[:8])
    return total - idle, total


def tree_cpu(roots: list[int]) -> float:
    """Return the CPU seconds (user + system) of ``roots`` and their live descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, todo = 0.0, list(roots)
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total
