"""Measurements: what one scenario produced, and the timing loops that produce them.

Every loop runs ``warmup`` unrecorded repetitions first, then ``reps`` recorded ones; tables show
medians over the recorded repetitions (and percentiles over all recorded run latencies).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowHandle

#: Seconds one run may take before the scenario is declared stuck (a failing workflow task is
#: retried by Temporal forever, so a broken run never ends by itself).
RUN_TIMEOUT = 60.0

#: One complete run: start it, wait for its result, check the result (raises if wrong).
RunOnce = Callable[[], Awaitable[None]]


@dataclass
class Measurement:
    """What one scenario measured; unset numbers print as blanks.

    Attributes:
        key: Stable id used to pair Keel rows with raw rows (``raw.local_chain``).
        label: What was run, for the table.
        size: The scenario's size (``40 steps``, ``200 items``, ``8 clients``).
        total_ms: Median wall time of one repetition.
        per_step_ms: ``total_ms`` divided by the steps or items of one repetition.
        runs_per_s: Median throughput over repetitions.
        p50_ms: Median latency of one run (all recorded runs pooled).
        p99_ms: 99th percentile latency of one run.
        reps: Recorded repetitions (or runs, for sequential latency).
        error: Why the scenario failed, if it did.
        cpu_ms_per_run: CPU time of the system under test per run (webhook scenarios).
        cpu_is_alone: Whether that CPU time excludes the benchmark's own clients.
        drain_ms: Time from the last 202 until the last accepted run had completed.
        machine_busy: The share (0-1) of the whole machine's CPU time that was busy while the
            scenario ran, every process counted (the capacity target: was the machine the limit).
        samples: The raw numbers behind the medians (seconds, or runs/s for throughput).
    """

    key: str
    label: str
    size: str = ""
    total_ms: float | None = None
    per_step_ms: float | None = None
    runs_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    reps: int = 0
    error: str | None = None
    cpu_ms_per_run: float | None = None
    cpu_is_alone: bool = True
    drain_ms: float | None = None
    machine_busy: float | None = None
    samples: list[float] = field(default_factory=list, repr=False)


#: Iterations of :func:`speed_gauge`'s loop (0.3-0.4 s of CPU on this machine).
GAUGE_LOOPS = 5_000_000


def speed_gauge() -> float:
    """Return the CPU seconds a fixed pure-Python loop takes now: the machine's speed, read.

    The same work takes more CPU time when the machine is slower (a busy host, a lower clock),
    so readings taken minutes apart show how far the machine drifted between two measurements
    that are compared (measured here: 0.41, 0.27 and 0.31 s within one ``make bench`` run).
    """
    started = time.process_time()
    total = 0
    for i in range(GAUGE_LOOPS):
        total += i * i % 7
    return time.process_time() - started


def percentile(values: list[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _quiet_heap() -> None:
    """Collect, then freeze this process's heap, so its own collector pauses stay out of timings.

    The benchmark process holds Temporal's client, Keel and every sample so far; a full
    collection of all that stalled its clients for 80 ms and more mid-scenario, counted as the
    latency of whatever was in flight (the servers measured never saw it). Called before each
    scenario, for the raw floor and Keel alike.
    """
    gc.collect()
    gc.freeze()


async def _timed(run: RunOnce) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def latency(
    m: Measurement, run: RunOnce, *, steps: int, reps: int, warmup: int
) -> Measurement:
    """Time one run per repetition; ``total_ms`` is the median, ``per_step_ms`` its share."""
    _quiet_heap()
    for _ in range(warmup):
        await run()
    m.samples = [await _timed(run) for _ in range(reps)]
    m.total_ms = statistics.median(m.samples) * 1000
    m.per_step_ms = m.total_ms / steps
    m.reps = reps
    return m


async def burst(m: Measurement, run: RunOnce, *, count: int, reps: int, warmup: int) -> Measurement:
    """Start ``count`` runs at once per repetition; runs/s is ``count`` over the wall time."""
    _quiet_heap()
    latencies: list[float] = []
    rates: list[float] = []
    for rep in range(warmup + reps):
        start = time.perf_counter()
        times = await asyncio.gather(*(_timed(run) for _ in range(count)))
        elapsed = time.perf_counter() - start
        if rep >= warmup:
            rates.append(count / elapsed)
            latencies.extend(times)
    return _throughput(m, rates, latencies, reps)


async def sequential(m: Measurement, run: RunOnce, *, runs: int, warmup: int) -> Measurement:
    """Run ``runs`` runs one after another; report p50/p99 latency and the implied runs/s."""
    _quiet_heap()
    for _ in range(warmup):
        await run()
    latencies = [await _timed(run) for _ in range(runs)]
    m.samples = latencies
    m.p50_ms = percentile(latencies, 50) * 1000
    m.p99_ms = percentile(latencies, 99) * 1000
    m.runs_per_s = runs / sum(latencies)
    m.reps = runs
    return m


async def clients(
    m: Measurement,
    run: RunOnce,
    *,
    clients: int,
    per_client: int,
    reps: int,
    warmup: int,
    cpu: Callable[[], float] | None = None,
) -> Measurement:
    """Per repetition, ``clients`` loops each do ``per_client`` sequential runs.

    ``cpu``: returns the CPU seconds of the system under test so far (for ``cpu_ms_per_run``).
    """
    level = Level(m, clients, cpu)
    (m,) = await levels([level], run, per_client=per_client, reps=reps, warmup=warmup)
    return m


@dataclass
class Level:
    """One client count of :func:`levels`, and where its figures go.

    Attributes:
        m: The measurement of this level.
        clients: Its number of concurrent clients.
        cpu: Returns the CPU seconds of the system under test so far (for ``cpu_ms_per_run``).
        run: What this level's clients run; ``None``: the ``run`` given to :func:`levels`
            (another system measured in the same minutes, such as the raw floor beside Keel).
    """

    m: Measurement
    clients: int
    cpu: Callable[[], float] | None = None
    run: RunOnce | None = None


async def levels(
    found: Sequence[Level], run: RunOnce, *, per_client: int, reps: int, warmup: int
) -> list[Measurement]:
    """Measure several client counts, their repetitions alternated (one of each in turn).

    Alternating keeps a slow drift of the machine or of the server under test (its store grows
    with every run) out of the comparison between the levels: each sees the same minutes.
    """
    _quiet_heap()
    rates: list[list[float]] = [[] for _ in found]
    latencies: list[list[float]] = [[] for _ in found]
    cpu_seconds = [0.0 for _ in found]

    async def client(one: RunOnce) -> list[float]:
        return [await _timed(one) for _ in range(per_client)]

    for rep in range(warmup + reps):
        for index, level in enumerate(found):
            cpu_before = level.cpu() if level.cpu is not None else 0.0
            start = time.perf_counter()
            one = level.run or run
            per = await asyncio.gather(*(client(one) for _ in range(level.clients)))
            elapsed = time.perf_counter() - start
            if rep >= warmup:
                rates[index].append(level.clients * per_client / elapsed)
                latencies[index].extend(t for times in per for t in times)
                if level.cpu is not None:
                    cpu_seconds[index] += level.cpu() - cpu_before
    for index, level in enumerate(found):
        _throughput(level.m, rates[index], latencies[index], reps)
        if level.cpu is not None:
            level.m.cpu_ms_per_run = cpu_seconds[index] / (level.clients * per_client * reps) * 1000
    return [level.m for level in found]


def _throughput(
    m: Measurement, rates: list[float], latencies: list[float], reps: int
) -> Measurement:
    m.samples = rates
    m.runs_per_s = statistics.median(rates)
    m.p50_ms = percentile(latencies, 50) * 1000
    m.p99_ms = percentile(latencies, 99) * 1000
    m.reps = reps
    return m


class CheckError(AssertionError):
    """A run returned something other than what the scenario expects."""


def check(got: object, expected: object, what: str) -> None:
    """Raise :class:`CheckError` unless ``got == expected`` (a benchmark of wrong work is void)."""
    if got != expected:
        raise CheckError(f"{what}: expected {expected!r}, got {got!r}")


def record_failure(measurements: Sequence[Measurement], exc: BaseException) -> None:
    """Record ``exc`` as the error of each of ``measurements`` (measured, and failed, together)."""
    for m in measurements:
        m.error = f"{type(exc).__name__}: {exc}".strip()


async def guarded(
    m: Measurement, body: Callable[[Measurement], Awaitable[Measurement]]
) -> Measurement:
    """Run one scenario; a failure is recorded in ``m.error`` instead of ending the benchmark."""
    try:
        return await body(m)
    except Exception as exc:  # any failure of one scenario is reported, the rest still run
        record_failure([m], exc)
        return m


async def result_within(
    handle: WorkflowHandle[Any, Any],
    wait: Callable[[], Awaitable[Any]] | None = None,
    seconds: float | None = None,
) -> Any:
    """Return the run's result (awaiting ``wait()`` if given), or fail after ``seconds``.

    A stuck run is terminated, and the error quotes its last workflow-task failure, if any.
    """
    seconds = seconds or RUN_TIMEOUT
    try:
        async with asyncio.timeout(seconds):
            return await (wait() if wait is not None else handle.result())
    except TimeoutError:
        reason = await _stuck_reason(handle)
        with contextlib.suppress(Exception):
            await handle.terminate("bench: run timed out")
        raise CheckError(f"run did not end within {seconds:g} s{reason}") from None


async def _stuck_reason(handle: WorkflowHandle[Any, Any]) -> str:
    """Return the message of the run's last failed workflow task, for an error."""
    try:
        history = await handle.fetch_history()
    except Exception:  # best effort
        return ""
    for event in reversed(history.events):
        if event.HasField("workflow_task_failed_event_attributes"):
            failure = event.workflow_task_failed_event_attributes.failure
            return f"; its workflow task fails: {failure.message}"
    return ""
