"""Capacity: do added ``keel worker`` processes add throughput when runs wait on I/O?

A webhook workflow of 3 chained ``core.http_request`` calls to a loopback server that answers
after ``SLOW_MS`` (:func:`bench.topology.slow_server`), through ``/wait`` from
``capacity_clients`` closed-loop clients, against one ``keel api`` process with one
``keel worker``, then with a second worker started beside it on the same task queue (the runs
go to the workers whole; their actions run there). Issue 9's target: runs/s with 2 workers
>= 1.8x one worker's. The clients are many enough (32) to keep one worker's runs in flight; the
second worker only helps if the first was the limit.

Measured with each worker's default action slots (one machine's 2 cores for every process, so
the machine is the limit and a second worker cannot add much), then with fixed slots per worker
(``KEEL_WORKER_MAX_ACTIONS``), where each worker stands for a machine of its own that carries
that many actions at once. That stand-in holds only while the two workers together leave this
machine CPU to spare, so every row prints how busy the whole machine was: with 4 slots, two
workers need about as many runs/s as this machine completes with any number of workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from rich.table import Table

from bench import documents, measure
from bench.lean_http import LeanClient
from bench.measure import Measurement, check, guarded
from bench.options import Options
from bench.stack import KeelStack, machine_cpu, running, tree_cpu
from bench.topology import SLOW_MS, slow_server

#: Issue 9: runs/s with 2 worker processes >= this times one worker's.
MIN_SCALE = 1.8
KEY_ONE, KEY_TWO = "keel.capacity_1w", "keel.capacity_2w"

Progress = Callable[[Measurement], None]


def io_workflow(url: str) -> str:
    """Return the 3-call ``core.http_request`` chain to ``url`` with a webhook trigger."""
    return documents.with_webhook(documents.http_chain(3, url))


def slot_keys(slots: int) -> tuple[str, str]:
    """Return the measurement keys of the pair with ``slots`` action slots per worker."""
    return f"keel.capacity_slots{slots}_1w", f"keel.capacity_slots{slots}_2w"


async def run_capacity(options: Options, address: str, progress: Progress) -> list[Measurement]:
    """Measure the I/O webhook's runs/s with one worker process, then with two.

    First with the default action slots, then once per count in ``capacity_slots`` with
    ``KEEL_WORKER_MAX_ACTIONS`` set to it (see the module docstring).
    """
    found = await _pair(options, address, progress, None, (KEY_ONE, KEY_TWO))
    for slots in options.capacity_slots:
        found += await _pair(options, address, progress, slots, slot_keys(slots))
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
            # Deliveries through the lean client, as the webhook scenarios send them.
            contextlib.aclosing(LeanClient("127.0.0.1", stack.port)) as lean,
        ):
            path = await stack.apply(http, io_workflow(slow_url), "bench-capacity")
            request = lean.request(path + "/wait", {})

            async def run() -> None:
                response = await lean.send(request)
                check(response.status_code, 200, f"/wait status ({response.text[:200]})")
                body = response.json()
                check(body["status"], "succeeded", "run status")
                check(body["result"], 3, "capacity run result")

            async def body(m: Measurement) -> Measurement:
                # Keel's CPU per run (API + workers) tells a CPU-bound machine from a worker
                # that leaves capacity unused.
                before, machine_before = stack.cpu(), machine_cpu()
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
                (busy, total), (busy_before, total_before) = machine_cpu(), machine_before
                spent = total - total_before
                m.machine_busy = (busy - busy_before) / spent if spent else None
                return m

            found = [await guarded(one, body)]
            progress(found[-1])
            stack.add_worker()
            await stack.settle()
            found.append(await guarded(two, body))
            progress(found[-1])
    return found


def capacity_table(measurements: Sequence[Measurement], slots: Sequence[int]) -> Table:
    """Return the capacity target: runs/s with 2 workers against 1, with a verdict per pair.

    Args:
        measurements: Everything measured (the capacity rows are picked out by key).
        slots: The fixed slot counts measured (``Options.capacity_slots``).
    """
    by_key = {m.key: m for m in measurements}
    table = Table(title="Capacity: keel api + keel worker processes, I/O-bound webhook (issue 9)")
    for column in ("target", "1 worker", "2 workers", "ratio", "wanted", "verdict"):
        table.add_column(column, justify="left" if column in ("target", "wanted") else "right")

    def get(key: str, metric: str) -> float | None:
        value = getattr(by_key.get(key), metric, None)
        return value if isinstance(value, float) else None

    pairs = [(KEY_ONE, KEY_TWO, "default slots (one machine's 2 cores for all)")]
    pairs += [(*slot_keys(n), f"{n} action slots per worker (a machine each)") for n in slots]
    for first, second, label in pairs:
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
        table.add_row(
            f"  machine busy, all processes (% of {os.cpu_count()} cores)",
            _percent(get(first, "machine_busy")),
            _percent(get(second, "machine_busy")),
        )
    return table


def _pair_ms(get: Callable[[str, str], float | None], key: str) -> str:
    p50, p99 = get(key, "p50_ms"), get(key, "p99_ms")
    return f"{_num(p50)} / {_num(p99)}"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f}%"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


#: One round of :func:`compare_sources` for one source: CPU ms per run of the API process and
#: of the worker, and the runs/s.
Round = tuple[float, float, float]


async def compare_sources(
    sources: Sequence[str],
    *,
    rounds: int,
    runs: int,
    clients: int,
    slots: int,
    profile: Path | None = None,
) -> dict[str, list[Round]]:
    """Alternate Keel ``src/`` folders on the capacity scenario; return CPU per run of each.

    For each round and each source in turn: a fresh ``keel api`` and one ``keel worker`` (with
    ``slots`` action slots) on one dev server for all, a warm-up of two runs per client, then
    ``runs`` runs from ``clients`` clients. The CPU counters of the two processes, read apart,
    are steadier than wall clock on a shared machine; alternating the sources spreads the
    machine's drift over all of them.

    Args:
        sources: The ``src/`` folders (old and new).
        rounds: How many times each source is measured.
        runs: Runs measured per round.
        clients: Closed-loop clients.
        slots: ``KEEL_WORKER_MAX_ACTIONS`` of the worker.
        profile: A folder for ``py-spy --gil`` profiles (raw folded stacks) of both processes.
    """
    from keel.orchestration.devserver import TemporalDevServer

    found: dict[str, list[Round]] = {src: [] for src in sources}
    env = {"KEEL_WORKER_MAX_ACTIONS": str(slots)}
    with (
        slow_server() as slow_url,
        tempfile.TemporaryDirectory(prefix="keel-bench-cpu-") as tmp,
    ):
        async with TemporalDevServer(db_file=Path(tmp) / "temporal.db") as server:
            for round_ in range(rounds):
                for index, src in enumerate(sources):
                    folder = Path(tmp) / f"r{round_}-{index}"
                    folder.mkdir()
                    async with running(server.address, folder, 1, src=src, env=env) as stack:
                        tag = f"{round_}-{index}"
                        spied = (profile, tag) if profile is not None else None
                        found[src].append(await _round(stack, slow_url, runs, clients, spied))
                    api, worker, rate = found[src][-1]
                    print(
                        f"round {round_} {src}: API {api:.2f} ms, worker {worker:.2f} ms/run, "
                        f"{rate:.1f} runs/s",
                        flush=True,
                    )
    return found


async def _round(
    stack: KeelStack, slow_url: str, runs: int, clients: int, spied: tuple[Path, str] | None
) -> Round:
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with stack.client(limits) as http:
        path = await stack.apply(http, io_workflow(slow_url), "bench-capacity")

        async def loop(count: int) -> None:
            for _ in range(count):
                response = await http.post(path + "/wait", json={})
                check(response.status_code, 200, f"/wait status ({response.text[:200]})")
                check(response.json()["result"], 3, "capacity run result")

        await asyncio.gather(*(loop(2) for _ in range(clients)))
        assert stack.api is not None
        api_before, all_before = tree_cpu([stack.api.pid]), stack.cpu()
        spies = _spies(stack, *spied) if spied is not None else []
        started = time.perf_counter()
        per_client = max(1, runs // clients)
        await asyncio.gather(*(loop(per_client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        for spy in spies:
            spy.wait()
        api = tree_cpu([stack.api.pid]) - api_before
        worker = stack.cpu() - all_before - api
        done = per_client * clients
        return api / done * 1000, worker / done * 1000, done / elapsed


def _spies(stack: KeelStack, folder: Path, tag: str) -> list[subprocess.Popen[bytes]]:
    """Start ``py-spy record --gil`` (raw folded stacks, 10 s) on the API and the worker."""
    assert stack.api is not None
    spy = str(Path(sys.executable).with_name("py-spy"))
    folder.mkdir(parents=True, exist_ok=True)
    pids = {"api": stack.api.pid, "worker": stack.workers[0].pid}
    record = [spy, "record", "--gil", "-r", "200", "-d", "10", "--format", "raw"]
    return [
        subprocess.Popen(
            [*record, "-p", str(pid), "-o", str(folder / f"{name}-{tag}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.capacity --src OLD --src NEW``: alternate sources, print CPU per run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity",
        description="Keel CPU per run of the capacity scenario (API and worker apart), "
        "for Keel src/ folders measured in alternation on one dev server.",
    )
    parser.add_argument("--src", action="append", required=True, help="a Keel src/ folder")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per source (3)")
    parser.add_argument("--runs", type=int, default=320, help="runs measured per round (320)")
    parser.add_argument("--clients", type=int, default=32, help="closed-loop clients (32)")
    parser.add_argument("--slots", type=int, default=4, help="the worker's action slots (4)")
    parser.add_argument("--profile", type=Path, help="record py-spy --gil profiles here")
    args = parser.parse_args(argv)
    os.environ["KEEL_HTTP_ALLOW_PRIVATE"] = "true"
    found = asyncio.run(
        compare_sources(
            args.src,
            rounds=args.rounds,
            runs=args.runs,
            clients=args.clients,
            slots=args.slots,
            profile=args.profile,
        )
    )
    for src, rows in found.items():
        api = statistics.median(r[0] for r in rows)
        worker = statistics.median(r[1] for r in rows)
        rate = statistics.median(r[2] for r in rows)
        print(
            f"{src}: median API {api:.2f} + worker {worker:.2f} = {api + worker:.2f} ms/run, "
            f"{rate:.1f} runs/s ({len(rows)} rounds)"
        )


if __name__ == "__main__":
    main()
