"""Webhook scenarios (2f): webhook -> 3 transforms -> result, through Keel's real HTTP API.

The API is served by uvicorn on loopback (:class:`keel.api.server.ApiServer`, as ``keel up`` serves
it) in this process, beside a Keel worker on the service's task queue, so runs start eagerly; the
store is a SQLite file in a temporary folder. Clients are ``httpx`` over real sockets:

- ``/wait``, one client after another: p50/p99 of webhook-in to result-out, and runs/s;
- ``/wait`` from ``clients`` concurrent clients: runs/s and p50/p99;
- the plain form (202 once Temporal accepted the start) under the same load: the ack's p50/p99.

:func:`targets_table` puts them beside the raw eager-start floor of ``perf-notes.md`` (11 ms p50
sequential; 123 runs/s at 8 clients) and, when the raw part ran too, beside this run's raw rows.
Numbers are printed as measured.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import httpx
from rich.table import Table
from temporalio.client import Client

from bench import documents, measure
from bench.measure import Measurement, check, guarded
from bench.options import Options
from bench.raw_workflows import TransformInput, expected_transform
from keel.api.app import create_app
from keel.api.commits import apply_document
from keel.api.server import ApiServer
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.execution.local import LocalExecutor
from keel.orchestration.secrets import NoSecrets
from keel.orchestration.worker import build_worker
from keel.store.crypto import SecretCipher
from keel.store.database import Database

Progress = Callable[[Measurement], None]

#: The three-transform benchmark workflow with a webhook trigger.
WEBHOOK_TRANSFORMS = documents.THREE_TRANSFORMS.replace(
    "actions:\n", "triggers:\n  - {type: webhook, ref: hook}\nactions:\n", 1
)

#: The raw eager-start floor of perf-notes.md (3 in-workflow transforms, start to result).
FLOOR_P50_MS = 11.0
FLOOR_RUNS_PER_S = 123.0

#: Targets: runs/s at least 0.9x the floor's, p50 at most 1.2x, 202 ack p99 at most 50 ms.
MIN_RATE_RATIO = 0.9
MAX_P50_RATIO = 1.2
MAX_ACK_P99_MS = 50.0


class WebhookBench:
    """The webhook scenarios against one Temporal client."""

    def __init__(self, client: Client, options: Options) -> None:
        self.client = client
        self.o = options

    @contextlib.asynccontextmanager
    async def _service(self) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
        """Serve the API with a worker; yield an HTTP client and the webhook's path."""
        task_queue = f"bench-webhook-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory(prefix="keel-bench-webhook-") as tmp:
            async with Database(f"sqlite+aiosqlite:///{Path(tmp) / 'keel.db'}") as database:
                await database.migrate()
                cipher = SecretCipher("keel benchmark passphrase, not a secret")
                state = ServiceState(database, cipher, self.client, task_queue, eager=True)
                install_trigger_hooks(state)
                worker = build_worker(self.client, task_queue, LocalExecutor(), NoSecrets())
                async with worker, ApiServer(create_app(state), "127.0.0.1", 0) as server:
                    result = await apply_document(state, WEBHOOK_TRANSFORMS, "bench-webhook")
                    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
                    async with httpx.AsyncClient(
                        base_url=server.url, limits=limits, timeout=60
                    ) as http:
                        yield http, result.webhook_path()

    async def run_all(self, progress: Progress) -> list[Measurement]:
        """Run the webhook scenarios in turn, reporting each as it ends."""
        o = self.o
        found: list[Measurement] = []
        async with self._service() as (http, path):
            wait, ack = _wait_run(http, path), _ack_run(http, path)
            scenarios: list[tuple[Measurement, Callable[[Measurement], Awaitable[Measurement]]]] = [
                (
                    Measurement(
                        "keel.webhook_seq", "2f webhook /wait, sequential", f"{o.seq_runs} runs"
                    ),
                    lambda m: measure.sequential(m, wait, runs=o.seq_runs, warmup=3),
                ),
                (
                    Measurement(
                        "keel.webhook_clients", "2f webhook /wait, clients", f"{o.clients} clients"
                    ),
                    lambda m: measure.clients(
                        m,
                        wait,
                        clients=o.clients,
                        per_client=o.per_client,
                        reps=o.reps,
                        warmup=o.warmup,
                    ),
                ),
                (
                    Measurement(
                        "keel.webhook_ack", "2f webhook 202 ack, clients", f"{o.clients} clients"
                    ),
                    lambda m: measure.clients(
                        m,
                        ack,
                        clients=o.clients,
                        per_client=o.per_client,
                        reps=o.reps,
                        warmup=o.warmup,
                    ),
                ),
            ]
            for m, body in scenarios:
                found.append(await guarded(m, body))
                progress(found[-1])
        return found


def _wait_run(http: httpx.AsyncClient, path: str) -> Callable[[], Awaitable[None]]:
    """Return one webhook delivery through ``/wait``, its result checked."""
    trigger = documents.transform_trigger()
    expected = expected_transform(TransformInput(**trigger))

    async def run() -> None:
        response = await http.post(path + "/wait", json=trigger)
        check(response.status_code, 200, f"/wait status ({response.text[:200]})")
        body = response.json()
        check(body["status"], "succeeded", "run status")
        check(body["result"], expected, "webhook run result")

    return run


def _ack_run(http: httpx.AsyncClient, path: str) -> Callable[[], Awaitable[None]]:
    """Return one webhook delivery through the plain form (timed to its 202)."""
    trigger = documents.transform_trigger()

    async def run() -> None:
        response = await http.post(path, json=trigger)
        check(response.status_code, 202, f"webhook status ({response.text[:200]})")

    return run


def targets_table(measurements: Sequence[Measurement]) -> Table:
    """Return the webhook rows beside the raw floor (perf-notes, and this run's raw rows)."""
    by_key = {m.key: m for m in measurements}

    def get(key: str, metric: str) -> float | None:
        found = by_key.get(key)
        value = getattr(found, metric, None) if found is not None else None
        return value if isinstance(value, float) else None

    table = Table(title="Webhook through the HTTP API vs the raw eager-start floor")
    for column in ("metric", "webhook", "floor (perf-notes)", "ratio", "target", "raw here"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    seq, cl, ack = "keel.webhook_seq", "keel.webhook_clients", "keel.webhook_ack"
    raw_seq, raw_cl = "raw.transform_seq", "raw.transform_clients"
    clients = by_key[cl].size if cl in by_key else "clients"
    rows: list[tuple[str, float | None, float | None, str, float | None]] = [
        (
            "p50, sequential (ms)",
            get(seq, "p50_ms"),
            FLOOR_P50_MS,
            f"<= {MAX_P50_RATIO}x",
            get(raw_seq, "p50_ms"),
        ),
        ("p99, sequential (ms)", get(seq, "p99_ms"), None, "", get(raw_seq, "p99_ms")),
        ("runs/s, sequential", get(seq, "runs_per_s"), None, "", get(raw_seq, "runs_per_s")),
        (
            f"runs/s, {clients}",
            get(cl, "runs_per_s"),
            FLOOR_RUNS_PER_S,
            f">= {MIN_RATE_RATIO}x",
            get(raw_cl, "runs_per_s"),
        ),
        ("p50 under clients (ms)", get(cl, "p50_ms"), None, "", get(raw_cl, "p50_ms")),
        ("p99 under clients (ms)", get(cl, "p99_ms"), None, "", get(raw_cl, "p99_ms")),
        ("202 ack p50 (ms)", get(ack, "p50_ms"), None, "", None),
        ("202 ack p99 (ms)", get(ack, "p99_ms"), MAX_ACK_P99_MS, "<= 1.0x (50 ms)", None),
    ]
    for label, value, floor, target, raw in rows:
        ratio = f"{value / floor:.2f}x" if value is not None and floor else ""
        table.add_row(label, _num(value), _num(floor), ratio, target, _num(raw))
    return table


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
