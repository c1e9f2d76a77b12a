"""``python -m bench``: raw Temporal baselines, then Keel scenarios, on one dev server; tables.

The raw baselines and the executor scenarios run in this process; the webhook scenarios and the
capacity target run against ``keel api`` and ``keel worker`` child processes (as ``keel up``
runs them, :mod:`bench.stack`). Everything uses one ``TemporalDevServer`` (temp-file SQLite with the
WAL pragmas and eager workflow start that Keel's dev server always gets). The server, workers, the
loopback HTTP server and Ray are all torn down on the way out, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench.measure import Measurement
from bench.options import Options, parse_options


def _prepare_environment() -> None:
    """Set the env vars Keel's settings read, before anything (or any Ray worker) reads them.

    ``core.http_request`` asks ``get_settings()`` (cached) whether loopback is allowed, in this
    process and, with the Ray executor, in Ray's workers, which inherit this environment at
    ``ray.init``.
    """
    os.environ["KEEL_HTTP_ALLOW_PRIVATE"] = "true"
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # A broken run's workflow task is retried forever and logs a traceback each time; the
    # scenario's error (quoted from the run's history) says it once, in the table.
    logging.getLogger("temporalio").setLevel(logging.ERROR)


def _quiet_runtime() -> Runtime:
    """Return a Temporal runtime whose core logs errors only (not each failed workflow task)."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


async def _main(options: Options, out: Console, log: Console) -> int:
    from temporalio.client import Client

    from bench import measure, report
    from bench.loopback import LoopbackServer
    from bench.ray_session import RaySession
    from keel.config import Settings
    from keel.orchestration.connection import data_converter

    # SIGTERM (e.g. from `timeout`) would end Python at once, skipping the clean-up below and
    # leaving the dev server (in its own session) running: turn it into a cancellation, as
    # asyncio already does for Ctrl-C.
    task = asyncio.current_task()
    assert task is not None

    def guard_sigterm() -> None:
        # Called again once Ray is up: ray.init installs its own SIGTERM handler (sys.exit).
        # (Ray is stopped last, after the dev server: its shutdown resets SIGTERM to default.)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

    guard_sigterm()
    from bench.raw import RawBench
    from keel.orchestration.devserver import TemporalDevServer

    measure.RUN_TIMEOUT = options.run_timeout
    measurements: list[Measurement] = []

    def progress(m: Measurement) -> None:
        value = (
            f"FAILED {m.error}"
            if m.error
            else f"{m.total_ms:.1f} ms"
            if m.total_ms is not None
            else f"{m.runs_per_s:.1f} runs/s, p50 {m.p50_ms:.1f} ms"
        )
        log.print(f"  [dim]{m.label} ({m.size}):[/] {value}")

    with (
        contextlib.ExitStack() as sync_stack,
        tempfile.TemporaryDirectory(prefix="keel-bench-") as tmp,
    ):
        folder = Path(tmp)
        ray_session = RaySession(after_start=guard_sigterm)
        sync_stack.callback(ray_session.stop)
        server = TemporalDevServer(
            db_file=None if options.memory_db else folder / "temporal.db",
            log_file=folder / "temporal.log",
        )
        started = time.perf_counter()
        async with server:
            log.print(
                f"[bold]dev server[/] at {server.address} "
                f"({time.perf_counter() - started:.1f} s to start)"
            )
            client = await Client.connect(server.address, runtime=_quiet_runtime())
            # Keel's side uses a client as Keel builds them: with the external storage that keeps
            # large values in the store (the payloads here are small; this measures its cost).
            store = Settings(home=folder, database_url=f"sqlite+aiosqlite:///{folder / 'keel.db'}")
            keel_client = await Client.connect(
                server.address, runtime=_quiet_runtime(), data_converter=data_converter(store)
            )
            out.print(report.facts_table(options, server.command()))
            gauges = [("start", measure.speed_gauge())]
            # The I/O chains (raw 1b-http, Keel 2b) call this server.
            loopback = None if options.only_webhook else sync_stack.enter_context(LoopbackServer())
            if "raw" in options.parts:
                log.print("[bold]raw Temporal[/]")
                url = loopback.url if loopback is not None else None
                measurements += await RawBench(client, options, url).run_all(progress)
            if "keel" in options.parts:
                log.print("[bold]Keel[/]")
                if loopback is not None:
                    try:
                        from bench.keel_runs import KeelBench
                    except Exception as exc:  # the pure core may not have landed yet
                        log.print(f"[red]Keel scenarios cannot run: {type(exc).__name__}: {exc}[/]")
                    else:
                        measurements += await KeelBench(
                            keel_client,
                            options,
                            loopback.url,
                            ray_session=ray_session,
                            raw_client=client,
                        ).run_all(progress)
                gauges.append(("webhook", measure.speed_gauge()))
                measurements += await _webhooks(
                    keel_client, options, server.address, progress, raw_client=client
                )
            if options.capacity and ("keel" in options.parts or "capacity" in options.parts):
                from bench.capacity import run_capacity

                log.print("[bold]capacity[/] (keel api + 1, then 2 keel workers)")
                measurements += await run_capacity(options, server.address, progress)
            gauges.append(("end", measure.speed_gauge()))
        raw = [m for m in measurements if m.key.startswith("raw.")]
        keel = [m for m in measurements if m.key.startswith("keel.")]
        topology = {
            "processes": f"keel api + {options.workers} keel worker process(es), no eager start",
            "process": "API + worker in one child process, eager start",
            "in-process": "API + worker in the bench's process, eager start",
        }[options.webhook_topology]
        if raw:
            out.print(
                report.results_table("Raw Temporal (hand-written, eager start unless noted)", raw)
            )
        if keel:
            out.print(report.results_table(f"Keel (webhook and capacity: {topology})", keel))
        if raw and keel and not options.only_webhook:
            out.print(report.ratios_table(measurements))
        if any(m.key.startswith("keel.webhook") for m in measurements):
            from bench.webhook import targets_table

            for label in _labels(options):
                out.print(targets_table(measurements, label))
        if any(m.key.startswith("keel.capacity") for m in measurements):
            from bench.capacity import capacity_table

            out.print(capacity_table(measurements, options.capacity_slots))
        readings = ", ".join(f"{name} {seconds:.2f}" for name, seconds in gauges)
        out.print(
            f"Speed gauge (CPU s of a fixed Python loop; higher is a slower machine): {readings}"
        )
        return 1 if any(m.error for m in measurements) else 0


def _labels(options: Options) -> list[str]:
    """Return the key suffix of each Keel source the webhook scenarios ran (``""``: this one)."""
    if len(options.webhook_src) < 2:
        return [""]
    return [f"@{n}" for n in range(1, len(options.webhook_src) + 1)]


async def _webhooks(
    client: Any,
    options: Options,
    address: str,
    progress: Callable[[Measurement], None],
    *,
    raw_client: Any = None,
) -> list[Measurement]:
    """Run the webhook scenarios: once, or alternating the given Keel sources for some rounds.

    With several ``--webhook-src``, each round runs every source in turn (in the opposite order
    on odd rounds, so neither always goes first); a source's figures are the median of its rounds.
    """
    from bench.webhook import WebhookBench

    sources: list[str | None] = list(options.webhook_src) or [None]
    labels = _labels(options)
    found: dict[str, list[list[Measurement]]] = {label: [] for label in labels}
    for round_ in range(options.webhook_rounds):
        order = list(zip(sources, labels, strict=True))
        for src, label in order if round_ % 2 == 0 else reversed(order):
            bench = WebhookBench(
                client, options, address, src=src, label=label, raw_client=raw_client
            )
            found[label].append(await bench.run_all(progress))
    return [merged for rounds in found.values() for merged in _merge_rounds(rounds)]


def _merge_rounds(rounds: list[list[Measurement]]) -> list[Measurement]:
    """Return each scenario's measurement with the median of its numbers over the rounds."""
    merged = []
    for same in zip(*rounds, strict=True):
        errors = [m.error for m in same if m.error]
        numbers = {}
        for metric in ("runs_per_s", "p50_ms", "p99_ms", "cpu_ms_per_run", "drain_ms"):
            values = [getattr(m, metric) for m in same if getattr(m, metric) is not None]
            numbers[metric] = statistics.median(values) if values else None
        merged.append(replace(same[0], error=errors[0] if errors else None, **numbers))
    return merged


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark, print the tables; exit 1 if a scenario failed."""
    options = parse_options(argv)
    _prepare_environment()
    from bench.report import make_console

    out, log = make_console(), make_console(stderr=True)
    started = time.perf_counter()
    try:
        code = asyncio.run(_main(options, out, log))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log.print("[yellow]interrupted; everything started here has been stopped[/]")
        return 130
    log.print(f"done in {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
