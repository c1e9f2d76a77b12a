"""Child processes watched and restarted: what ``keel up`` is made of.

A :class:`Child` is one long-running Keel process (``keel api``, ``keel worker``) started with
the same interpreter, environment and working folder as ``keel up``, its output appended to its
own log file. :class:`Supervisor` watches the children, the Temporal dev server and the Ray head
(:mod:`keel.processes.ray_head`, under ``KEEL_EXECUTOR=ray``) twice a second: one that died is
reported (on ``keel up``'s console and in its log) and started again, after a back-off when it
keeps dying young, and the state of each is published in ``stack.json`` (which ``GET /health``
reads). A restarted Ray head is a new cluster its workers cannot rejoin, so they are restarted
after it.

Children run in their own process group, so a Ctrl-C in the terminal reaches ``keel up`` alone,
which then stops them in order (API first, then workers, then Ray, then Temporal), and what a
dead child left in its group (uvicorn's server processes, Ray's GCS and raylet) is killed with
it. On Linux each child also gets SIGTERM from the kernel if ``keel up`` dies without stopping
it (even by SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from keel.orchestration.devserver import TemporalDevServer

if TYPE_CHECKING:
    from keel.processes.ray_head import RayHead

#: Seconds between SIGTERM and SIGKILL when stopping a child.
STOP_GRACE = 15.0
#: A child that lived shorter than this before dying is restarted after a growing back-off.
YOUNG = 10.0
#: The longest back-off between restarts, in seconds.
MAX_BACKOFF = 30.0
#: Seconds the Ray head has to stop (it drains running tasks for up to 30 s first).
RAY_STOP_GRACE = 40.0

_PR_SET_PDEATHSIG = 1


def _own_group_and_die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Run in the child before exec: its own process group, and SIGTERM if its parent dies."""
    os.setpgid(0, 0)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: a Keel command, or another program (the Ray head).

    Attributes:
        name: How logs and ``/health`` call it (``api``, ``worker-1``).
        args: The ``keel`` command's arguments (``["worker"]``), or ``program``'s.
        log_path: The file its output is appended to.
        program: What runs ``args``: ``keel`` (this interpreter) unless given.
        env: Variables added to ``keel up``'s environment for it.
        restarts: How many times it was started again after dying.
        last_exit: Its last exit code (negative: the signal that killed it).
    """

    name: str
    args: list[str]
    log_path: Path
    program: list[str] = field(default_factory=lambda: [sys.executable, "-m", "keel.cli.main"])
    env: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    last_exit: int | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)
    _started_at: float = 0.0
    _restart_at: float | None = None
    _kill_at: float | None = None

    @property
    def pid(self) -> int | None:
        """The running process's pid."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the process.

        Call it from the event loop's thread: the parent-death signal is tied to the thread
        that forks, and a short-lived thread would take its children with it.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            descriptor = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._log = os.fdopen(descriptor, "ab")
        self._process = subprocess.Popen(
            [*self.program, *self.args],
            env={**os.environ, **self.env} if self.env else None,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_own_group_and_die_with_parent,  # noqa: PLW1509 - no threads fork here
        )
        self._started_at = time.monotonic()
        self._restart_at = self._kill_at = None

    def exited(self) -> int | None:
        """Return the exit code if the process has ended since it was started, else None."""
        if self._process is None:
            return None
        return self._process.poll()

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the child's process group (uvicorn's server processes included)."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signum)

    def kill_leftovers(self) -> None:
        """SIGKILL whatever still runs in the process group of the child, which has ended.

        The kernel does not reuse a pid that still names a process group, so the group is this
        child's as long as it has members.
        """
        if self._process is not None and self._process.poll() is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def stop_soon(self, grace: float = STOP_GRACE) -> None:
        """Send SIGTERM now, and SIGKILL if it still runs ``grace`` seconds later (by the watch)."""
        self.signal(signal.SIGTERM)
        self._kill_at = time.monotonic() + grace

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to end; return whether it has."""
        if self._process is None:
            return True
        try:
            self._process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self) -> None:
        """Close the log file (after the process has ended)."""
        if self._log is not None:
            self._log.close()
            self._log = None

    def status(self) -> dict[str, Any]:
        """Return what ``stack.json`` and ``/health`` show of this child."""
        running = self._process is not None and self._process.poll() is None
        return {
            "pid": self.pid if running else None,
            "state": "running" if running else "restarting",
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }


class Supervisor:
    """Watches the children, the dev server and the Ray head; restarts what dies; publishes.

    Args:
        children: The processes to run (started by :meth:`start`).
        server: The dev server ``keel up`` started, if any (restarted on the same port and file).
        report: Called with one line for each event worth telling the user (a death, a restart).
        publish: Called with the state of every process whenever it changes.
        ray: The Ray head the workers use, if ``keel up`` runs one (started first, restarted on
            the same port, and the workers after it).
    """

    def __init__(
        self,
        children: list[Child],
        server: TemporalDevServer | None,
        report: Callable[[str], None],
        publish: Callable[[dict[str, dict[str, Any]]], None],
        ray: RayHead | None = None,
    ) -> None:
        self.children = children
        self.server = server
        self.ray = ray
        self.report = report
        self.publish = publish
        self.server_restarts = 0
        self._published: dict[str, dict[str, Any]] | None = None

    async def start(self) -> None:
        """Start the Ray head (and wait for it), then every child.

        Raises:
            ConfigError: The Ray head did not start.
        """
        if self.ray is not None:
            self.ray.start()
            self._publish()
            await self.ray.wait_ready()
        for child in self.children:
            child.start()
        self._publish()

    def state(self) -> dict[str, dict[str, Any]]:
        """Return the state of Temporal (when supervised) and of every child, by name."""
        processes: dict[str, dict[str, Any]] = {}
        if self.server is not None:
            processes["temporal"] = {
                "pid": self.server.pid,
                "state": "running" if self.server.running else "restarting",
                "restarts": self.server_restarts,
            }
        if self.ray is not None:
            processes[self.ray.child.name] = self.ray.child.status()
        for child in self.children:
            processes[child.name] = child.status()
        return processes

    async def watch(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Check on every process each ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def check(self) -> None:
        """Restart the dev server or any child that has died (children after a back-off)."""
        if self.server is not None and not self.server.running:
            self.server_restarts += 1
            self.report(
                f"the Temporal dev server died; restarting it on {self.server.address} "
                f"(restart {self.server_restarts})"
            )
            self._publish()
            try:
                await self.server.start()
            except Exception as exc:  # told, and tried again at the next check
                self.report(f"the Temporal dev server did not restart: {exc}")
            else:
                self._publish()
                self.report(f"the Temporal dev server is back on {self.server.address}")
        if self.ray is not None:
            await self._check_ray(self.ray)
        now = time.monotonic()
        for child in self.children:
            code = child.exited()
            if code is None:
                if child._kill_at is not None and now >= child._kill_at:
                    child.signal(signal.SIGKILL)
                continue
            child.kill_leftovers()
            if child._restart_at is None:
                lived = now - child._started_at
                young = lived < YOUNG
                delay = min(2.0 ** min(child.restarts, 5), MAX_BACKOFF) if young else 0.0
                child.last_exit = code
                child._restart_at = now + delay
                how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                self.report(
                    f"{child.name} (pid {child.pid}) {how} after {lived:.0f} s; restarting it"
                    + (f" in {delay:g} s" if delay else "")
                    + f" (log: {child.log_path})"
                )
            if now >= child._restart_at:
                child.restarts += 1
                child.start()
                self._publish()  # before the report: whoever reads it finds the new state
                self.report(f"{child.name} restarted (pid {child.pid}, restart {child.restarts})")
        self._publish()

    async def _check_ray(self, ray: RayHead) -> None:
        """Restart a dead Ray head on its port, then the workers, whose cluster died with it."""
        child = ray.child
        code = child.exited()
        if code is None:
            return
        ray.kill({})  # its GCS, raylet and Ray workers, if `ray start` alone died
        if child._restart_at is None:
            lived = time.monotonic() - child._started_at
            delay = min(2.0 ** min(child.restarts, 5), MAX_BACKOFF) if lived < YOUNG else 0.0
            child.last_exit = code
            child._restart_at = time.monotonic() + delay
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            when = f" in {delay:g} s" if delay else ""
            self.report(
                f"the Ray head (pid {child.pid}) {how} after {lived:.0f} s; restarting it on "
                f"{ray.address}{when} (log: {child.log_path})"
            )
            self._publish()
        if time.monotonic() < child._restart_at:
            return
        child.restarts += 1
        ray.start()
        try:
            await ray.wait_ready()
        except Exception as exc:  # told, and tried again at the next check
            self.report(f"the Ray head did not restart: {exc}")
            return
        finally:
            self._publish()
        workers = [c for c in self.children if c.env.get("KEEL_RAY_ADDRESS")]
        self.report(
            f"the Ray head is back on {ray.address} (pid {child.pid}, restart {child.restarts}); "
            f"restarting {len(workers)} worker(s), whose Ray cluster it replaced"
        )
        for worker in workers:
            worker.stop_soon()

    def _publish(self) -> None:
        state = self.state()
        if state != self._published:
            self._published = state
            self.publish(state)

    async def stop(self) -> None:
        """Stop the API first (no new runs), then the workers, the Ray head, the dev server."""
        for group in (
            [c for c in self.children if c.name.startswith("api")],
            [c for c in self.children if not c.name.startswith("api")],
        ):
            for child in group:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for child in group:
                if not await asyncio.to_thread(child.wait, deadline - time.monotonic()):
                    child.signal(signal.SIGKILL)
                    await asyncio.to_thread(child.wait, 5.0)
                child.close()
                child.kill_leftovers()
        if self.ray is not None:
            await self._stop_ray(self.ray)
        if self.server is not None:
            await self.server.stop()

    async def _stop_ray(self, ray: RayHead) -> None:
        """Stop the Ray head as ``ray stop`` would, and leave none of its processes behind."""
        child = ray.child
        known = ray.processes()  # now: Ray workers leave the tree once their raylet is gone
        # SIGTERM to `ray start` alone: it drains the node and stops its processes in order.
        if child._process is not None and child.exited() is None:
            with contextlib.suppress(ProcessLookupError):
                child._process.send_signal(signal.SIGTERM)
        if not await asyncio.to_thread(child.wait, RAY_STOP_GRACE):
            child.signal(signal.SIGKILL)
            await asyncio.to_thread(child.wait, 5.0)
        ray.kill(known)
        child.close()
        ray.cleanup()
