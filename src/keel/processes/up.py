"""``keel up``: Keel on one machine as real processes, supervised.

``keel up`` starts, in its state folder (``KEEL_HOME``):

1. a Temporal dev server (unless ``KEEL_TEMPORAL_ADDRESS`` names one), state in
   ``temporal.db``, owned by ``keel up`` itself;
2. one ``keel api`` process (uvicorn with ``--processes N`` server processes behind one port);
3. N ``keel worker`` processes;
4. with ``KEEL_EXECUTOR=ray`` and no ``KEEL_RAY_ADDRESS``, one local Ray head that every worker
   runs its actions on (:mod:`keel.processes.ray_head`), started before them;

sized to the machine's cores by default. It takes the folder's lock first (a second ``keel up``
on the same folder refuses to start), stops a dev server an earlier, killed ``keel up`` left
behind, migrates the store, makes the local API key, and publishes the whole stack in
``stack.json`` (which the children, the CLI and ``/health`` read). Then it watches: a process
that dies is restarted and reported. SIGINT/SIGTERM stop everything, in order.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from keel.config import Settings
from keel.errors import ConfigError
from keel.orchestration.connection import embedded_server
from keel.orchestration.devserver import TemporalDevServer, free_port
from keel.orchestration.home import (
    KEY_FILE,
    LOCK_FILE,
    FolderLock,
    StackInfo,
    prepare,
    read_local_key,
    remove_stack,
    write_local_key,
)
from keel.processes.ray_head import RayHead
from keel.processes.supervisor import Child, Supervisor
from keel.processes.worker import until_signal
from keel.store import apikeys
from keel.store.crypto import SecretCipher
from keel.store.database import Database

#: Seconds to wait for the API to answer after its process starts.
API_START_TIMEOUT = 90.0
#: CPU priority decrement of the workers: they share the machine with the API and Temporal, and
#: a saturated machine should still accept work quickly (it waits in Temporal, durably).
WORKER_NICE = 5
#: The name of the local API key in the store.
LOCAL_KEY_NAME = "local (keel up)"


@dataclass(frozen=True)
class UpOptions:
    """How ``keel up`` runs.

    Attributes:
        host: The API's interface.
        port: The API's port (0 picks a free one).
        api_processes: uvicorn server processes behind the API port.
        workers: ``keel worker`` processes.
        temporal_port: The dev server's port (None: 7233 when free, else any free port).
    """

    host: str
    port: int
    api_processes: int
    workers: int
    temporal_port: int | None = None


def default_workers() -> int:
    """Return how many worker processes suit this machine: one per two cores, at least one."""
    return max(1, (os.cpu_count() or 1) // 2)


#: Called once the API answers, with its URL and the local key (``keel up FILE`` applies here).
OnReady = Callable[[str, str], Awaitable[None]]


async def run_up(
    settings: Settings, options: UpOptions, console: Console, on_ready: OnReady
) -> None:
    """Run the supervised stack until SIGINT/SIGTERM.

    Raises:
        ConfigError: The folder is in use, the port is taken, or the API did not come up.
    """
    home = prepare(settings.home)
    lock = FolderLock(home / LOCK_FILE, f"the state folder {home}")
    lock.acquire()
    log = _Log(home / "logs" / "up.log", console)
    server: TemporalDevServer | None = None
    supervisor: Supervisor | None = None
    try:
        key = await _prepare_store(settings, home)
        port = _check_port(options.host, options.port)
        if settings.temporal_address:
            address, ui_url = settings.temporal_address, None
        else:
            server = embedded_server(settings, ui=True, port=options.temporal_port)
            await server.start()
            if server.stale_stopped:
                log(f"stopped a Temporal dev server (pid {server.stale_stopped}) left behind")
            address, ui_url = server.address, server.ui_url
        api_url = f"http://{_url_host(options.host)}:{port}"
        info = StackInfo(
            pid=os.getpid(),
            address=address,
            ui_url=ui_url,
            api_url=api_url,
            temporal_pid=server.pid if server else None,
        )
        info.write(home)  # the children find Temporal here

        def publish(processes: dict[str, dict[str, Any]]) -> None:
            info.processes = processes
            info.temporal_pid = server.pid if server else None
            info.write(home)

        logs = home / "logs"
        api_args = ["api", "--host", options.host, "--port", str(port)]
        children = [
            Child("api", [*api_args, "--processes", str(options.api_processes)], logs / "api.log")
        ]
        # One Ray for the stack: each worker would otherwise start a local Ray of its own.
        ray = (
            RayHead(settings, home, logs)
            if settings.executor == "ray" and not settings.ray_address
            else None
        )
        worker_env = ray.driver_env() if ray is not None else {}
        if ray is not None:  # a `keel worker` or `keel run` started by hand here joins it too
            info.ray_address = ray.address
            info.write(home)
        children += [
            Child(
                f"worker-{n}",
                ["worker", "--nice", str(WORKER_NICE)],
                logs / f"worker-{n}.log",
                env=worker_env,
            )
            for n in range(1, options.workers + 1)
        ]
        supervisor = Supervisor(children, server, log, publish, ray)
        console.print(f"Temporal: {address}")
        if ui_url:
            console.print(f"Temporal UI: {ui_url}")
        if ray is not None:
            console.print(
                f"Ray: {ray.address} ({ray.num_cpus} CPUs, one head for every worker; "
                f"its files in {ray.temp_dir})"
            )
        await supervisor.start()
        await _wait_for_api(api_url, children[0])
        console.print(
            f"Console: {api_url}/ (sign in with an API key: this folder's is in "
            f"{home / KEY_FILE}, or make one with `keel apikey create`)"
        )
        console.print(
            f"API: {api_url} (docs: {api_url}/docs; {options.api_processes} server "
            f"process(es)); workers: {options.workers} ({settings.executor} executor); "
            f"logs: {logs}"
        )
        await on_ready(api_url, key)
        console.print("Keel is up; Ctrl-C to stop")
        stop = asyncio.Event()
        watching = asyncio.create_task(supervisor.watch(stop))
        await until_signal(watching)
        stop.set()
        await watching
    finally:
        if supervisor is not None:
            console.print("stopping Keel...")
            await supervisor.stop()
        elif server is not None:
            await server.stop()
        remove_stack(home)
        lock.release()


async def _prepare_store(settings: Settings, home: Path) -> str:
    """Migrate the store, make sure of the secret key, and return the local API key."""
    SecretCipher.from_settings(settings)  # creates secret.key once, before children race to
    async with Database.from_settings(settings) as database:
        await database.migrate()
        key = read_local_key(home)
        async with database.session() as session:
            if key is None or await apikeys.verify_api_key(session, key) is None:
                key = (await apikeys.create_api_key(session, LOCAL_KEY_NAME)).key
                write_local_key(home, key)
    return key


def _check_port(host: str, port: int) -> int:
    """Return ``port`` (or a free one for 0) after checking it can be served on ``host``."""
    if port == 0:
        return free_port(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the API on {host}:{port}: {exc.strerror or exc} "
                "(choose another port with --port or KEEL_API_PORT)"
            ) from None
    return port


async def _wait_for_api(url: str, child: Child) -> None:
    """Wait until the API answers ``/health``; fail with the end of its log if it dies."""
    deadline = time.monotonic() + API_START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if child.exited() is not None:
                raise ConfigError(f"the API process stopped while starting{_tail(child)}")
            try:
                await http.get(f"{url}/health")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2)
    raise ConfigError(f"the API did not answer on {url} in {API_START_TIMEOUT:g} s{_tail(child)}")


def _tail(child: Child, lines: int = 15) -> str:
    try:
        text = child.log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"; the end of {child.log_path}:\n" + "\n".join(text)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _Log:
    """``keel up``'s own log: each line on the console and appended to ``logs/up.log``."""

    def __init__(self, path: Path, console: Console) -> None:
        self.path = path
        self.console = console
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __call__(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.console.print(f"[yellow]{escape(line)}[/]")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")
