"""Where a run's workflow tasks and actions should execute: the API process or the workers.

``python -m bench.topology`` measures, as separate processes on this machine against one dev
server, three ways of serving webhooks:

- ``eager``: one process serves the API *and* runs a whole worker, starting runs eagerly (the
  first workflow task comes back to the API process, and with it, by stickiness, the whole run,
  actions included); a ``keel worker`` beside it;
- ``handoff``: ``keel api`` with ``KEEL_API_ORCHESTRATION=false`` (no worker, no eager start)
  plus one or two ``keel worker``: every run goes to the workers whole;
- ``orchestrate`` (the default): ``keel api`` starts the ``/wait`` runs that need no activity
  (the 3-transform workflow) eagerly on its own workflow-only worker and finishes them there;
  runs with actions (the I/O workflow) go to the workers whole
  (:mod:`keel.orchestration.placement`); plus one or two ``keel worker``.

For each: sequential ``/wait`` p50 of the 3-transform webhook workflow, its runs/s at 8
clients, and the runs/s of a webhook workflow of 3 ``core.http_request`` calls to a loopback
server that answers after 50 ms (16 clients), the case where added workers must add capacity.
It prints one table; the README's "Running in production" records the figures and the choice.
``make bench`` measures the ``keel api`` + ``keel worker`` topology and the capacity target
(:mod:`bench.capacity`) with verdicts; this script compares it with eager start.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench import documents
from bench.stack import tree_cpu
from keel.orchestration.devserver import TemporalDevServer, free_port

SLOW_MS = 50


class _Slow(BaseHTTPRequestHandler):
    """Answers every POST with its JSON body as ``{"echo": ...}`` after ``SLOW_MS``."""

    protocol_version = "HTTP/1.1"
    # One write per response, without Nagle: http.server otherwise sends the headers and the
    # body in two small writes, and the second waits for the client's delayed ACK (~40 ms), so
    # a "50 ms" call took ~90 ms (seen in the histories of the capacity runs).
    disable_nagle_algorithm = True
    wbufsize = -1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(SLOW_MS / 1000)
        reply = json.dumps({"echo": json.loads(body or b"null")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/echo"
    finally:
        server.shutdown()


def _keel(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def serve_eager() -> None:
    """Serve the API with an in-process worker and eager start (``keel up`` before processes)."""
    from keel.api.app import create_app
    from keel.api.catalog import StoreCatalog
    from keel.api.server import ApiServer
    from keel.api.state import ServiceState
    from keel.api.triggers_sync import install_trigger_hooks
    from keel.config import get_settings
    from keel.execution.local import LocalExecutor
    from keel.orchestration.connection import connect
    from keel.orchestration.worker import build_worker
    from keel.processes.worker import until_signal
    from keel.store.crypto import SecretCipher
    from keel.store.database import Database

    async def main() -> None:
        settings = get_settings()
        database = Database.from_settings(settings)
        await database.migrate()
        client = await connect(settings)
        state = ServiceState(
            database, SecretCipher.from_settings(settings), client, settings.task_queue, eager=True
        )
        install_trigger_hooks(state)
        worker = build_worker(
            client, settings.task_queue, LocalExecutor(), catalog=StoreCatalog(database)
        )
        async with worker, ApiServer(create_app(state), "127.0.0.1", settings.api_port):
            await until_signal()

    asyncio.run(main())


async def _closed_loop(
    clients: int, total: int, once: Callable[[], Awaitable[float]]
) -> tuple[float, float]:
    """Run ``total`` calls from ``clients`` clients; return runs/s and the p50 in ms."""
    latencies: list[float] = []
    left = total

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            latencies.append(await once())

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return total / elapsed, latencies[len(latencies) // 2] * 1000


async def _measure(
    url: str, key: str, slow_url: str, api: int, workers: list[int]
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as h:
        paths = {}
        io_flow = documents.with_webhook(documents.http_chain(3, slow_url))
        for alias, text in (("transforms", documents.WEBHOOK_TRANSFORMS), ("io", io_flow)):
            applied = await h.post("/workflows/apply", json={"yaml": text, "alias": alias})
            applied.raise_for_status()
            paths[alias] = "/webhooks/" + applied.json()["webhook_url"].split("/webhooks/")[1]

        def once(alias: str, body: object) -> Callable[[], Awaitable[float]]:
            async def run() -> float:
                began = time.perf_counter()
                answer = await h.post(paths[alias] + "/wait", json=body)
                if answer.status_code != 200 or answer.json()["status"] != "succeeded":
                    raise RuntimeError(f"{alias}: {answer.status_code} {answer.text[:300]}")
                return time.perf_counter() - began

            return run

        transforms = once("transforms", documents.transform_trigger())
        io = once("io", {})
        await _closed_loop(1, 10, transforms)  # warm-up
        await _closed_loop(4, 8, io)
        _, seq_p50 = await _closed_loop(1, 60, transforms)
        api_before = tree_cpu([api])
        workers_before = tree_cpu(workers)
        rate8, _ = await _closed_loop(8, 200, transforms)
        api_ms = (tree_cpu([api]) - api_before) * 1000 / 200
        workers_ms = (tree_cpu(workers) - workers_before) * 1000 / 200
        io_rate, _ = await _closed_loop(16, 160, io)
    return {
        "seq_p50_ms": seq_p50,
        "runs_s_8": rate8,
        "io_runs_s_16": io_rate,
        "api_cpu_ms": api_ms,
        "workers_cpu_ms": workers_ms,
    }


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


async def _config(
    name: str, address: str, workers: int, mode: str, slow_url: str
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="keel-topo-") as tmp:
        folder = Path(tmp)
        port = free_port()
        env = {
            "KEEL_TEMPORAL_ADDRESS": address,
            "KEEL_HOME": str(folder / "home"),
            "KEEL_TASK_QUEUE": f"topo-{name}",
            "KEEL_SECRET_KEY": "a passphrase for the topology bench, long enough",
            "KEEL_HTTP_ALLOW_PRIVATE": "true",
            "KEEL_API_PORT": str(port),
            "KEEL_API_ORCHESTRATION": "true" if mode == "orchestrate" else "false",
        }
        made = subprocess.run(
            [sys.executable, "-m", "keel.cli.main", "apikey", "create"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        key = made.stdout.strip()
        api_args = (
            ["-c", "from bench.topology import serve_eager; serve_eager()"]
            if mode == "eager"
            else ["-m", "keel.cli.main", "api", "--port", str(port), "--processes", "1"]
        )
        children = [_keel(api_args, env, folder / "api.log")]
        children += [
            _keel(["-m", "keel.cli.main", "worker"], env, folder / f"worker-{n}.log")
            for n in range(workers)
        ]
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_http(url)
            time.sleep(2)  # workers polling
            return await _measure(
                url, key, slow_url, children[0].pid, [c.pid for c in children[1:]]
            )
        finally:
            for child in children:
                os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                child.wait(timeout=30)


async def main() -> None:
    console = Console(width=140)
    configs = [
        ("eager, API process with a whole worker", 1, "eager"),
        ("keel api handing runs off + 1 keel worker", 1, "handoff"),
        ("keel api handing runs off + 2 keel workers", 2, "handoff"),
        ("keel api orchestrating (default) + 1 keel worker", 1, "orchestrate"),
        ("keel api orchestrating (default) + 2 keel workers", 2, "orchestrate"),
    ]
    table = Table(title=f"Where the first workflow task runs ({os.cpu_count()} cores)")
    for column in (
        "configuration",
        "/wait p50 seq (ms)",
        "runs/s 8 clients",
        "CPU/run in API (ms)",
        "CPU/run in workers (ms)",
        "I/O runs/s 16 clients",
    ):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="keel-topo-temporal-") as tmp, slow_server() as slow:
        async with TemporalDevServer(db_file=Path(tmp) / "temporal.db") as server:
            for index, (name, workers, mode) in enumerate(configs):
                found = await _config(f"c{index}", server.address, workers, mode, slow)
                table.add_row(
                    name,
                    f"{found['seq_p50_ms']:.1f}",
                    f"{found['runs_s_8']:.0f}",
                    f"{found['api_cpu_ms']:.1f}",
                    f"{found['workers_cpu_ms']:.1f}",
                    f"{found['io_runs_s_16']:.0f}",
                )
                console.print(f"{name}: {found}")
    console.print(table)


if __name__ == "__main__":
    if "--serve-eager" in sys.argv:
        serve_eager()
    else:
        asyncio.run(main())
