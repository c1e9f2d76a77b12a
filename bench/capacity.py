"""Capacity: do added ``keel worker`` processes add throughput when runs wait on I/O?

A webhook workflow of 3 chained ``core.http_request`` calls to a loopback server that answers
after ``SLOW_MS`` (:func:`bench.topology.slow_server`), through ``/wait`` from
``capacity_clients`` closed-loop clients, against one ``keel api`` process with one
``keel worker``, then with a second worker started beside it on the same task queue (the API
process orchestrates these runs; their actions run on the workers). Issue
9's target: runs/s with 2 workers >= 1.8x one worker's. The clients are many enough (32) to
keep one worker's runs in flight; the second worker only helps if the first was the limit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from rich.table import Table

from bench import documents, measure
from bench.measure import Measurement, check, guarded
from bench.options import Options
from bench.stack import running
from bench.topology import SLOW_MS, slow_server

#: Issue 9: runs/s with 2 worker processes >= this times one worker's.
MIN_SCALE = 1.8
KEY_ONE, KEY_TWO = "keel.capacity_1w", "keel.capacity_2w"
KEY_ONE_SLOTS, KEY_TWO_SLOTS = "keel.capacity_slots_1w", "keel.capacity_slots_2w"

Progress = Callable[[Measurement], None]


def io_workflow(url: str) -> str:
    """Return the 3-call ``core.http_request`` chain to ``url`` with a webhook trigger."""
    return documents.http_chain(3, url).replace(
        "actions:\n", "triggers:\n  - {type: webhook, ref: hook}\nactions:\n", 1
    )


async def run_capacity(options: Options, address: str, progress: Progress) -> list[Measurement]:
    """Measure the I/O webhook's runs/s with one worker process, then with two.

    Twice: with the default action slots (on this machine, every process shares the same 2
    cores, so the machine is the limit), then with ``KEEL_WORKER_MAX_ACTIONS`` set to
    ``capacity_slots``, where each worker stands for a machine of its own that carries that many
    actions at once, which is what a second worker on a second machine adds.
    """
    found = await _pair(options, address, progress, None, (KEY_ONE, KEY_TWO))
    if options.capacity_slots > 0:
        keys = (KEY_ONE_SLOTS, KEY_TWO_SLOTS)
        found += await _pair(options, address, progress, options.capacity_slots, keys)
    return found


async def _pair(
    options: Options,
    address: str,
    progress: Progress,
    slots: int | None,
    keys: tuple[str, str],
) -> list[Measurement]:
    o = options
    per_client = max(1, o.capacity_runs // o.capacity_clients)
    size = f"{o.capacity_clients} clients, {per_client * o.capacity_clients} runs"
    where = "" if slots is None else f", {slots} action slots per worker"
    one = Measurement(keys[0], f"3 x http ({SLOW_MS} ms) webhook /wait, 1 worker{where}", size)
    two = Measurement(keys[1], f"3 x http ({SLOW_MS} ms) webhook /wait, 2 workers{where}", size)
    env = {} if slots is None else {"KEEL_WORKER_MAX_ACTIONS": str(slots)}
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    with (
        slow_server() as slow_url,
        tempfile.TemporaryDirectory(prefix="keel-bench-capacity-") as tmp,
    ):
        async with (
            running(address, Path(tmp), workers=1, env=env) as stack,
            stack.client(limits) as http,
        ):
            path = await stack.apply(http, io_workflow(slow_url), "bench-capacity")

            async def run() -> None:
                response = await http.post(path + "/wait", json={})
                check(response.status_code, 200, f"/wait status ({response.text[:200]})")
                body = response.json()
                check(body["status"], "succeeded", "run status")
                check(body["result"], 3, "capacity run result")

            async def body(m: Measurement) -> Measurement:
                # Keel's CPU per run (API + workers) tells a CPU-bound machine from a worker
                # that leaves capacity unused.
                before = stack.cpu()
                await measure.clients(
                    m,
                    run,
                    clients=o.capacity_clients,
                    per_client=per_client,
                    reps=o.reps,
                    warmup=o.warmup,
                )
                runs = o.capacity_clients * per_client * (o.reps + o.warmup)
                m.cpu_ms_per_run = (stack.cpu() - before) / runs * 1000
                return m

            found = [await guarded(one, body)]
            progress(found[-1])
            stack.add_worker()
            await stack.settle()
            found.append(await guarded(two, body))
            progress(found[-1])
    return found


def capacity_table(measurements: Sequence[Measurement]) -> Table:
    """Return the capacity target: runs/s with 2 workers against 1, with a verdict."""
    by_key = {m.key: m for m in measurements}
    table = Table(title="Capacity: keel api + keel worker processes, I/O-bound webhook (issue 9)")
    for column in ("target", "1 worker", "2 workers", "ratio", "wanted", "verdict"):
        table.add_column(column, justify="left" if column in ("target", "wanted") else "right")

    def get(key: str, metric: str) -> float | None:
        value = getattr(by_key.get(key), metric, None)
        return value if isinstance(value, float) else None

    for first, second, label in (
        (KEY_ONE, KEY_TWO, "default slots (one machine's 2 cores for all)"),
        (KEY_ONE_SLOTS, KEY_TWO_SLOTS, "fixed slots per worker (a machine each)"),
    ):
        if first not in by_key:
            continue
        rate_one, rate_two = get(first, "runs_per_s"), get(second, "runs_per_s")
        ratio = rate_two / rate_one if rate_one and rate_two is not None else None
        verdict = "n/a" if ratio is None else "met" if ratio >= MIN_SCALE else "MISSED"
        table.add_row(
            f"runs/s, {by_key[first].size}, {label}",
            _num(rate_one),
            _num(rate_two),
            "" if ratio is None else f"{ratio:.2f}x",
            f">= {MIN_SCALE}x 1 worker",
            verdict,
        )
        table.add_row("  p50 / p99 (ms)", _pair_ms(get, first), _pair_ms(get, second))
        table.add_row(
            "  Keel CPU per run, API + workers (ms)",
            _num(get(first, "cpu_ms_per_run")),
            _num(get(second, "cpu_ms_per_run")),
        )
    return table


def _pair_ms(get: Callable[[str, str], float | None], key: str) -> str:
    p50, p99 = get(key, "p50_ms"), get(key, "p99_ms")
    return f"{_num(p50)} / {_num(p99)}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
