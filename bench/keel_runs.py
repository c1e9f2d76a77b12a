"""The Keel scenarios (2a-2e): workflow documents run through Keel's client, worker and executors.

Runs start the way Keel's tests and server start them: ``parse_workflow`` once per scenario, then
``start_run(..., eager=True)`` and ``wait_result`` per run. Every scenario has its own task queue
and its own worker; the Ray scenario comes last, so Ray's processes add no load to the others.

The I/O chain on the two executors (2b) is one paired scenario when Ray runs: both workers up,
Ray started and its actors ready, then the local and the Ray chain alternate run by run (ABBA).
The local chain is also measured on its own, earlier, with no Ray process on the machine: Ray's
idle processes share the 2 cores, so the paired local figure serves only the Ray-vs-local
difference, and the unpaired one the comparison with the raw chains.
Its target is a difference of a few ms per step between the two, and on a shared 2-core machine
the wall time of the same chain moves by more than that between minutes; measured minutes apart
(the local chain second, the Ray chain last, as before 2026-11-29), the two figures compared
two machine loads as much as two executors (see bench/RESULTS.md, "Ray vs local, paired").
For the same reason the I/O chain's own target (<= 1.5x the raw local-activity chain, 1b) is
judged on a pair too: right after the unpaired local chain, Keel's chain and the raw chain (its
workflow on a plain client and a plain worker, as in 1b) alternate run by run. The raw worker
keeps the SDK's own payload passes although Keel's workers in the same process skip theirs
(:mod:`keel.orchestration.payload_passes` acts on Keel's data converter only; before session 11
it acted on every worker in the process, and this pair's raw chain ran ~30% faster than raw
Temporal does).
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from temporalio.client import Client

from bench import documents, measure
from bench.measure import Measurement, check, guarded
from bench.options import Options
from bench.raw import raw_worker, runner
from bench.raw_workflows import LocalChain, TransformInput, expected_transform
from bench.ray_session import RaySession
from keel.config import Settings
from keel.dsl.loader import parse_workflow
from keel.dsl.model import Workflow
from keel.execution.base import Executor
from keel.execution.factory import create_executor
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.worker import build_worker

Progress = Callable[[Measurement], None]


def _runner(
    client: Client, task_queue: str, workflow: Workflow, trigger: Any, expected: Any
) -> Callable[[], Awaitable[None]]:
    """Return a function that does one Keel run start to result and checks the result."""

    async def run() -> None:
        started = await start_run(
            client, workflow, task_queue=task_queue, trigger=trigger, eager=True
        )
        result = await measure.result_within(started.handle, lambda: wait_result(started))
        check(result, expected, f"{workflow.title} result")

    return run


class KeelBench:
    """The Keel scenarios against one client; ``url`` is the loopback HTTP server's."""

    def __init__(
        self,
        client: Client,
        options: Options,
        url: str,
        ray_session: RaySession | None = None,
        raw_client: Client | None = None,
    ) -> None:
        self.client = client
        # The raw floor's client (Temporal's default converter) for the paired raw chain; without
        # it that pair is not measured.
        self.raw_client = raw_client
        self.ray = ray_session or RaySession()
        self.o = options
        self.url = url
        # Built explicitly: get_settings() is cached process-wide and may predate our env.
        self.local_settings = Settings(executor="local", http_allow_private=True)
        self.ray_settings = Settings(executor="ray", http_allow_private=True)

    @contextlib.asynccontextmanager
    async def _worker(self, name: str, settings: Settings) -> AsyncIterator[str]:
        """Run a Keel worker on a fresh task queue with the executor ``settings`` names.

        A Ray executor's warm actors are awaited before the worker starts: their processes
        start (and import Keel, ~0.7 s of CPU each) in the background, which a worker pays
        once in its life, not on the calls timed here.
        """
        task_queue = f"bench-keel-{name}-{uuid.uuid4().hex[:8]}"
        if settings.executor == "ray":
            self.ray.start(settings)
        executor: Executor = create_executor(settings)
        try:
            if settings.executor == "ray":
                from keel.execution.ray import RayExecutor  # imports Ray: only when it runs

                assert isinstance(executor, RayExecutor)
                await executor.ready()
            async with build_worker(self.client, task_queue, executor):
                yield task_queue
        finally:
            await executor.close()

    async def run_all(self, progress: Progress) -> list[Measurement]:
        """Run every Keel scenario in turn, reporting each as it ends."""
        o = self.o
        local_chain = Measurement(
            "keel.http_chain_local", "2b http_request chain, local executor", f"{o.steps} steps"
        )
        plan: list[tuple[Measurement, Callable[[Measurement], Awaitable[Measurement]]]] = [
            (
                Measurement(
                    "keel.reshape_chain", "2a reshape chain (in workflow)", f"{o.steps} steps"
                ),
                self.reshape_chain,
            ),
        ]
        # Always measured here too, with no Ray process on the machine (as the raw chains are):
        # the figure the "local vs raw" targets compare. The paired block below measures the
        # local chain again, beside Ray, for the Ray-vs-local difference only.
        plan.append((local_chain, self.http_chain_local))
        plan += [
            (
                Measurement(
                    "keel.for_each_apply", "2c for_each of apply (activities)", f"{o.fanout} items"
                ),
                self.for_each_apply,
            ),
            (
                Measurement(
                    "keel.for_each_reshape",
                    "2c for_each of reshape (in workflow)",
                    f"{o.fanout} items",
                ),
                self.for_each_reshape,
            ),
            (
                Measurement(
                    "keel.concurrent", "2d concurrent runs, 3 applies", f"{o.concurrent} runs"
                ),
                self.concurrent,
            ),
            (
                Measurement(
                    "keel.transform_seq", "2e 3 reshapes, sequential", f"{o.seq_runs} runs"
                ),
                self.transform_seq,
            ),
            (
                Measurement(
                    "keel.transform_clients", "2e 3 reshapes, clients", f"{o.clients} clients"
                ),
                self.transform_clients,
            ),
        ]
        results = []
        for m, body in plan:
            results.append(await guarded(m, body))
            progress(results[-1])
            if m is local_chain and self.raw_client is not None:
                size = f"{o.steps} steps, paired"
                keel_paired = Measurement(
                    "keel.http_chain_vs_raw", "2b http_request chain, beside the raw 1b", size
                )
                raw_paired = Measurement(
                    "raw.local_chain_paired", "1b sequential local activities, beside 2b", size
                )
                for found in await self.http_chain_vs_raw(keel_paired, raw_paired):
                    results.append(found)
                    progress(found)
        if o.ray:
            size = f"{o.steps} steps, paired"
            paired_local = Measurement(
                "keel.http_chain_local_paired",
                "2b http_request chain, local executor, beside Ray",
                size,
            )
            ray_chain = Measurement(
                "keel.http_chain_ray", "2b http_request chain, Ray executor", size
            )
            for m in await self.http_chains_paired(paired_local, ray_chain):
                results.append(m)
                progress(m)
        return results

    async def _latency(
        self,
        m: Measurement,
        settings: Settings,
        document: str,
        trigger: Any,
        expected: Any,
        steps: int,
    ) -> Measurement:
        workflow = parse_workflow(document)
        async with self._worker(m.key.split(".")[1], settings) as tq:
            run = _runner(self.client, tq, workflow, trigger, expected)
            return await measure.latency(
                m, run, steps=steps, reps=self.o.reps, warmup=self.o.warmup
            )

    async def reshape_chain(self, m: Measurement) -> Measurement:
        steps = self.o.steps
        return await self._latency(
            m, self.local_settings, documents.reshape_chain(steps), None, steps, steps
        )

    async def http_chain_local(self, m: Measurement) -> Measurement:
        steps = self.o.steps
        doc = documents.http_chain(steps, f"{self.url}/echo")
        return await self._latency(m, self.local_settings, doc, None, steps, steps)

    async def http_chain_ray(self, m: Measurement) -> Measurement:
        steps = self.o.steps
        doc = documents.http_chain(steps, f"{self.url}/echo")
        return await self._latency(m, self.ray_settings, doc, None, steps, steps)

    async def http_chains_paired(
        self, local: Measurement, on_ray: Measurement
    ) -> list[Measurement]:
        """Run the I/O chain on both executors alternately; fill ``local`` and ``on_ray``.

        Both workers are up (Ray started, its actors ready) before the first timed run.
        """
        steps = self.o.steps
        workflow = parse_workflow(documents.http_chain(steps, f"{self.url}/echo"))
        try:
            async with (
                self._worker("http-chain-local", self.local_settings) as local_tq,
                self._worker("http-chain-ray", self.ray_settings) as ray_tq,
            ):
                # Importing and starting Ray just allocated heavily: the full collection that
                # it triggers (0.1-0.5 s on this heap under load) belongs to a worker's start,
                # not to a timed run; after it, the next one is ~50k surviving objects away.
                gc.collect()
                await self._alternate(
                    [
                        (local, _runner(self.client, local_tq, workflow, None, steps)),
                        (on_ray, _runner(self.client, ray_tq, workflow, None, steps)),
                    ]
                )
        except Exception as exc:  # reported in both rows, as guarded() does for one
            measure.record_failure([local, on_ray], exc)
        return [local, on_ray]

    async def http_chain_vs_raw(self, keel: Measurement, raw: Measurement) -> list[Measurement]:
        """Run Keel's I/O chain (local executor) and the raw 1b chain alternately.

        The raw chain is 1b exactly: its workflow on the raw floor's client and a plain worker.
        """
        assert self.raw_client is not None
        steps = self.o.steps
        workflow = parse_workflow(documents.http_chain(steps, f"{self.url}/echo"))
        raw_queue = f"bench-raw-local-chain-paired-{uuid.uuid4().hex[:8]}"
        try:
            async with (
                self._worker("http-chain-vs-raw", self.local_settings) as keel_tq,
                raw_worker(self.raw_client, raw_queue),
            ):
                await self._alternate(
                    [
                        (keel, _runner(self.client, keel_tq, workflow, None, steps)),
                        (raw, runner(self.raw_client, raw_queue, LocalChain.run, steps, steps)),
                    ]
                )
        except Exception as exc:
            measure.record_failure([keel, raw], exc)
        return [keel, raw]

    async def _alternate(
        self, runs: list[tuple[Measurement, Callable[[], Awaitable[None]]]]
    ) -> None:
        """Time ``runs`` in turn, the order swapped every repetition; fill each measurement.

        Each repetition runs one of each (first to last, then last to first), so every figure
        comes from the same minutes of the machine.
        """
        steps = self.o.steps
        for _ in range(self.o.warmup):
            for _m, run in runs:
                await run()
        for m, _run in runs:
            m.samples = []
        for rep in range(self.o.reps):
            for m, run in runs if rep % 2 == 0 else runs[::-1]:
                started = time.perf_counter()
                await run()
                m.samples.append(time.perf_counter() - started)
        for m, _run in runs:
            m.total_ms = statistics.median(m.samples) * 1000
            m.per_step_ms = m.total_ms / steps
            m.reps = self.o.reps

    async def for_each_apply(self, m: Measurement) -> Measurement:
        return await self._for_each(m, "apply")

    async def for_each_reshape(self, m: Measurement) -> Measurement:
        return await self._for_each(m, "reshape")

    async def _for_each(self, m: Measurement, action: str) -> Measurement:
        items = list(range(self.o.fanout))
        expected = [x + 1 for x in items]
        doc = documents.for_each(action)
        return await self._latency(
            m, self.local_settings, doc, {"items": items}, expected, len(items)
        )

    async def concurrent(self, m: Measurement) -> Measurement:
        workflow = parse_workflow(documents.apply_chain())
        async with self._worker("concurrent", self.local_settings) as tq:
            run = _runner(self.client, tq, workflow, {"n": 0}, 3)
            return await measure.burst(
                m, run, count=self.o.concurrent, reps=self.o.reps, warmup=self.o.warmup
            )

    def _transform_run(self, tq: str) -> Callable[[], Awaitable[None]]:
        trigger = documents.transform_trigger()
        expected = expected_transform(TransformInput(**trigger))
        workflow = parse_workflow(documents.THREE_TRANSFORMS)
        return _runner(self.client, tq, workflow, trigger, expected)

    async def transform_seq(self, m: Measurement) -> Measurement:
        async with self._worker("transform-seq", self.local_settings) as tq:
            run = self._transform_run(tq)
            return await measure.sequential(
                m, run, runs=self.o.seq_runs, warmup=max(self.o.warmup, 3)
            )

    async def transform_clients(self, m: Measurement) -> Measurement:
        async with self._worker("transform-clients", self.local_settings) as tq:
            return await measure.clients(
                m,
                self._transform_run(tq),
                clients=self.o.clients,
                per_client=self.o.per_client,
                reps=self.o.reps,
                warmup=self.o.warmup,
            )
