"""``python -m bench.chains``: only the sequential chains, alternated, with CPU per step.

The I/O-chain target compares Keel's 40-step ``core.http_request`` chain (2b, in-process
executor) with the raw local-activity chain (1b). On a shared machine single runs of either swing
by 2x, so this driver runs them in alternation for several rounds in one process (one dev server,
one loopback server) and reports medians: wall time per step and this process's CPU per step
(the client, the worker and the executor all run here; the dev server and the loopback server
do not), which load disturbs much less than wall time.

It also runs **1b-http**: the raw chain whose local activity makes the same HTTP call as Keel's
step (a POST of ``{"n": ...}`` to the loopback server on one reused plain ``httpx`` client), the
fair floor of an I/O chain: 1b does no I/O at all.

``--profile FILE`` writes a cProfile of the Keel chain's runs (after the rounds) to ``FILE``,
the event loop's thread's and, in ``FILE.threads``, the other Python threads' (workflow
activations run on the worker's threads; those are profiled from the start, so use it with
``--rounds 0 --warmup 0`` to see the Keel chain alone), and
``--threads`` prints each scenario's CPU per step by thread (the event loop, the workflow
activation threads, the Temporal core's Rust threads), read from ``/proc``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench import documents
from bench.raw import EchoActivity
from bench.raw_workflows import ACTIVITIES, WORKFLOWS, HttpEcho, LocalChain, LocalHttpChain

RunOnce = Callable[[], Awaitable[None]]


def _thread_cpu() -> dict[str, float]:
    """Return this process's CPU seconds by thread kind (Python thread name or OS name)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue  # the thread ended
        fields = stat.rsplit(")", 1)[1].split()
        name = names.get(int(tid), comm)
        # "ThreadPoolExecutor-0_3" and "tokio-runtime-w" kinds, not each thread.
        kind = re.sub(r"[-_]?\d+$", "", re.sub(r"_\d+$", "", name))
        found[kind] = found.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


async def _measure(run: RunOnce, reps: int, steps: int) -> tuple[float, float]:
    """Return (median wall ms per step, CPU ms per step over all reps) of ``reps`` runs."""
    walls = []
    cpu = time.process_time()
    for _ in range(reps):
        start = time.perf_counter()
        await run()
        walls.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    return statistics.median(walls) * 1000 / steps, cpu * 1000 / (reps * steps)


async def _main(args: argparse.Namespace) -> None:
    from bench.loopback import LoopbackServer
    from keel.config import Settings
    from keel.dsl.loader import parse_workflow
    from keel.execution.local import LocalExecutor
    from keel.orchestration.client import start_run, wait_result
    from keel.orchestration.connection import data_converter
    from keel.orchestration.devserver import TemporalDevServer
    from keel.orchestration.worker import build_worker

    steps = args.steps
    thread_profiles: list[cProfile.Profile] = []
    if args.profile:

        def profile_thread(*_: object) -> None:
            # The first event of each new thread swaps this hook for a profiler of its own.
            profiler = cProfile.Profile()
            thread_profiles.append(profiler)
            profiler.enable()

        threading.setprofile(profile_thread)
    with (
        tempfile.TemporaryDirectory(prefix="keel-chains-") as tmp,
        LoopbackServer() as loopback,
    ):
        folder = Path(tmp)
        async with TemporalDevServer(
            db_file=folder / "temporal.db", log_file=folder / "temporal.log"
        ) as server:
            raw_client = await Client.connect(server.address)
            store = Settings(home=folder, database_url=f"sqlite+aiosqlite:///{folder / 'keel.db'}")
            keel_client = await Client.connect(server.address, data_converter=data_converter(store))
            echo = EchoActivity()
            raw_queue = f"chains-raw-{uuid.uuid4().hex[:8]}"
            keel_queue = f"chains-keel-{uuid.uuid4().hex[:8]}"
            executor = LocalExecutor()
            url = f"{loopback.url}/echo"
            workflow = parse_workflow(documents.http_chain(steps, url))

            async def raw() -> None:
                got = await raw_client.execute_workflow(
                    LocalChain.run,
                    steps,
                    id=f"chains-{uuid.uuid4().hex}",
                    task_queue=raw_queue,
                    request_eager_start=True,
                )
                assert got == steps, got

            async def raw_http() -> None:
                got = await raw_client.execute_workflow(
                    LocalHttpChain.run,
                    HttpEcho(url, steps),
                    id=f"chains-{uuid.uuid4().hex}",
                    task_queue=raw_queue,
                    request_eager_start=True,
                )
                assert got == steps, got

            async def keel() -> None:
                started = await start_run(keel_client, workflow, task_queue=keel_queue, eager=True)
                got = await wait_result(started)
                assert got == steps, got

            scenarios: dict[str, RunOnce] = {"1b": raw, "1b-http": raw_http, "2b": keel}
            found: dict[str, list[tuple[float, float]]] = {name: [] for name in scenarios}
            async with (
                Worker(
                    raw_client,
                    task_queue=raw_queue,
                    workflows=WORKFLOWS,
                    activities=[*ACTIVITIES, echo.http_echo],
                ),
                build_worker(keel_client, keel_queue, executor),
            ):
                for run in scenarios.values():  # warm-up
                    for _ in range(args.warmup):
                        await run()
                threads: dict[str, dict[str, float]] = {name: {} for name in scenarios}
                for round_ in range(args.rounds):
                    order = list(scenarios.items())
                    for name, run in order if round_ % 2 == 0 else reversed(order):
                        before = _thread_cpu()
                        found[name].append(await _measure(run, args.reps, steps))
                        for kind, cpu in _thread_cpu().items():
                            used = cpu - before.get(kind, 0.0)
                            threads[name][kind] = threads[name].get(kind, 0.0) + used
                    line = "  ".join(
                        f"{n} {found[n][-1][0]:.2f} ms ({found[n][-1][1]:.2f} cpu)"
                        for n in scenarios
                    )
                    print(f"round {round_ + 1}: {line}", file=sys.stderr, flush=True)
                if args.profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    for _ in range(args.profile_runs):
                        await keel()
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                    threading.setprofile(None)  # type: ignore[arg-type]
                    if thread_profiles:
                        stats = pstats.Stats(thread_profiles[0])
                        for other in thread_profiles[1:]:
                            stats.add(other)
                        stats.dump_stats(f"{args.profile}.threads")
            await executor.close()
            await echo.client.aclose()
    if args.rounds:
        _report(found, args)
    if args.threads and args.rounds:
        runs = args.rounds * args.reps * steps
        for name, kinds in threads.items():
            shown = ", ".join(
                f"{kind} {cpu * 1000 / runs:.2f}"
                for kind, cpu in sorted(kinds.items(), key=lambda kv: -kv[1])
                if cpu > 0
            )
            print(f"{name:8} cpu ms/step by thread: {shown}")


def _report(found: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(
        f"{args.rounds} rounds x {args.reps} runs of {args.steps} steps; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    med = {n: [statistics.median(v[i] for v in rows) for i in (0, 1)] for n, rows in found.items()}
    for name, (wall, cpu) in med.items():
        print(f"{name:8} wall {wall:6.2f} ms/step   cpu {cpu:6.2f} ms/step")
    ratios = [k[0] / r[0] for k, r in zip(found["2b"], found["1b"], strict=True)]
    fair = [k[0] / r[0] for k, r in zip(found["2b"], found["1b-http"], strict=True)]
    print(f"2b / 1b (per-round ratios, median)       {statistics.median(ratios):.2f}x")
    print(f"2b / 1b-http (per-round ratios, median)  {statistics.median(fair):.2f}x")


def main() -> None:
    """Parse the options and run the chains."""
    parser = argparse.ArgumentParser(prog="python -m bench.chains", description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3, help="runs per scenario per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile", help="write a cProfile of Keel chain runs to this file")
    parser.add_argument("--profile-runs", type=int, default=10)
    parser.add_argument("--threads", action="store_true", help="CPU per step by thread")
    args = parser.parse_args()
    os.environ["KEEL_HTTP_ALLOW_PRIVATE"] = "true"
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
