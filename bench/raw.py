"""The raw Temporal baseline: hand-written workflows (``bench.raw_workflows``), no Keel code.

Every scenario gets its own task queue and its own worker (default sandboxed runner, like
Keel's), and starts its runs eagerly from this process, as Keel does, unless noted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench import measure
from bench.measure import Measurement, check, guarded
from bench.options import Options
from bench.raw_workflows import (
    ACTIVITIES,
    WORKFLOWS,
    ActivityChain,
    FanOut,
    HttpEcho,
    LocalChain,
    LocalHttpChain,
    ThreeTransforms,
    TransformInput,
    expected_transform,
)


def _queue(name: str) -> str:
    return f"bench-raw-{name}-{uuid.uuid4().hex[:8]}"


def raw_worker(client: Client, task_queue: str, *more_activities: Any) -> Worker:
    """Return a plain worker of every raw workflow and activity (plus ``more_activities``)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*ACTIVITIES, *more_activities],
    )


def runner(
    client: Client, task_queue: str, workflow: Any, arg: Any, expected: Any, *, eager: bool = True
) -> Callable[[], Awaitable[None]]:
    """Return a function that does one run start to result and checks the result."""

    async def run() -> None:
        handle = await client.start_workflow(
            workflow,
            arg,
            id=f"bench-{uuid.uuid4().hex}",
            task_queue=task_queue,
            request_eager_start=eager,
        )
        check(await measure.result_within(handle), expected, f"{task_queue} result")

    return run


class EchoActivity:
    """The raw HTTP chain's activity: one POST on a reused plain ``httpx`` client, no guard."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(timeout=10.0)

    @activity.defn(name="bench.http_echo")
    async def http_echo(self, call: HttpEcho) -> int:
        """POST ``{"n": call.n}`` to ``call.url``; return the ``n`` the server echoes."""
        response = await self.client.post(call.url, json={"n": call.n})
        response.raise_for_status()
        return int(response.json()["echo"]["n"])


class RawBench:
    """The raw scenarios (1a-1e) against one client.

    Args:
        client: The Temporal client.
        options: Sizes and repetitions.
        url: The loopback HTTP server's base URL; with it, the raw HTTP chain (1b-http), the
            fair floor of Keel's I/O chain (1b does no I/O), runs too.
    """

    def __init__(self, client: Client, options: Options, url: str | None = None) -> None:
        self.client = client
        self.o = options
        self.url = url
        self.echo = EchoActivity()

    def _worker(self, task_queue: str) -> Worker:
        return raw_worker(self.client, task_queue, self.echo.http_echo)

    async def run_all(self, progress: Callable[[Measurement], None]) -> list[Measurement]:
        """Run every raw scenario in turn, reporting each as it ends."""
        o = self.o
        steps, width, count = o.steps, o.fanout, o.concurrent
        plan: list[tuple[Measurement, Callable[[Measurement], Awaitable[Measurement]]]] = [
            (
                Measurement(
                    "raw.activity_chain", "1a sequential regular activities", f"{steps} steps"
                ),
                self.activity_chain,
            ),
            (
                Measurement("raw.local_chain", "1b sequential local activities", f"{steps} steps"),
                self.local_chain,
            ),
            (
                Measurement(
                    "raw.local_http_chain",
                    "1b-http local activities, each an HTTP POST",
                    f"{steps} steps",
                ),
                self.local_http_chain,
            ),
            (
                Measurement("raw.fan_out", "1c fan-out of regular activities", f"{width} wide"),
                self.fan_out,
            ),
            (
                Measurement(
                    "raw.concurrent", "1d concurrent runs, 3 regular activities", f"{count} runs"
                ),
                self.concurrent,
            ),
            (
                Measurement(
                    "raw.concurrent_lazy",
                    "1d' same, started without eager start",
                    f"{count} runs",
                ),
                self.concurrent_lazy,
            ),
            (
                Measurement(
                    "raw.transform_seq",
                    "1e 3 in-workflow transforms, sequential",
                    f"{o.seq_runs} runs",
                ),
                self.transform_seq,
            ),
            (
                Measurement(
                    "raw.transform_clients",
                    "1e 3 in-workflow transforms, clients",
                    f"{o.clients} clients",
                ),
                self.transform_clients,
            ),
            (
                Measurement(
                    "raw.transform_clients_high",
                    "1e 3 in-workflow transforms, more clients",
                    f"{o.clients_high} clients",
                ),
                self.transform_clients_high,
            ),
        ]
        if o.only_webhook:  # the floor of the webhook scenarios only
            plan = [(m, body) for m, body in plan if m.key.startswith("raw.transform")]
        if self.url is None:
            plan = [(m, body) for m, body in plan if m.key != "raw.local_http_chain"]
        results = []
        try:
            for m, body in plan:
                results.append(await guarded(m, body))
                progress(results[-1])
        finally:
            await self.echo.client.aclose()
        return results

    async def activity_chain(self, m: Measurement) -> Measurement:
        tq = _queue("activity-chain")
        async with self._worker(tq):
            run = runner(self.client, tq, ActivityChain.run, self.o.steps, self.o.steps)
            return await measure.latency(
                m, run, steps=self.o.steps, reps=self.o.reps, warmup=self.o.warmup
            )

    async def local_chain(self, m: Measurement) -> Measurement:
        tq = _queue("local-chain")
        async with self._worker(tq):
            run = runner(self.client, tq, LocalChain.run, self.o.steps, self.o.steps)
            return await measure.latency(
                m, run, steps=self.o.steps, reps=self.o.reps, warmup=self.o.warmup
            )

    async def local_http_chain(self, m: Measurement) -> Measurement:
        tq = _queue("local-http-chain")
        assert self.url is not None
        call = HttpEcho(f"{self.url}/echo", self.o.steps)
        async with self._worker(tq):
            run = runner(self.client, tq, LocalHttpChain.run, call, self.o.steps)
            return await measure.latency(
                m, run, steps=self.o.steps, reps=self.o.reps, warmup=self.o.warmup
            )

    async def fan_out(self, m: Measurement) -> Measurement:
        tq = _queue("fan-out")
        width = self.o.fanout
        expected = sum(i + 1 for i in range(width))
        async with self._worker(tq):
            run = runner(self.client, tq, FanOut.run, width, expected)
            return await measure.latency(
                m, run, steps=width, reps=self.o.reps, warmup=self.o.warmup
            )

    async def concurrent(self, m: Measurement, *, eager: bool = True) -> Measurement:
        tq = _queue("concurrent")
        async with self._worker(tq):
            run = runner(self.client, tq, ActivityChain.run, 3, 3, eager=eager)
            return await measure.burst(
                m, run, count=self.o.concurrent, reps=self.o.reps, warmup=self.o.warmup
            )

    async def concurrent_lazy(self, m: Measurement) -> Measurement:
        return await self.concurrent(m, eager=False)

    async def transform_seq(self, m: Measurement) -> Measurement:
        tq = _queue("transform-seq")
        data = TransformInput(20, "keel")
        async with self._worker(tq):
            run = runner(self.client, tq, ThreeTransforms.run, data, expected_transform(data))
            return await measure.sequential(
                m, run, runs=self.o.seq_runs, warmup=max(self.o.warmup, 3)
            )

    async def transform_clients(self, m: Measurement, clients: int | None = None) -> Measurement:
        tq = _queue("transform-clients")
        data = TransformInput(20, "keel")
        async with self._worker(tq):
            run = runner(self.client, tq, ThreeTransforms.run, data, expected_transform(data))
            # The floor's Python side (its worker, its Temporal client) is this process: its CPU
            # per run is what Keel's CPU per webhook run compares with (printed beside it).
            m = await measure.clients(
                m,
                run,
                clients=clients or self.o.clients,
                per_client=self.o.per_client,
                reps=self.o.reps,
                warmup=self.o.warmup,
                cpu=time.process_time,
            )
            m.cpu_is_alone = False
            return m

    async def transform_clients_high(self, m: Measurement) -> Measurement:
        return await self.transform_clients(m, self.o.clients_high)
