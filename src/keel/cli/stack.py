"""``keel api``, ``keel worker`` and ``keel up``: the long-running processes.

They are built in :mod:`keel.processes`; these commands only read options and settings.
``keel up`` supervises a Temporal dev server (or uses ``KEEL_TEMPORAL_ADDRESS``), one ``keel
api`` process and worker processes. Workflow files given to it are validated first (a broken one
stops it before anything starts), then applied through its own API (created or updated by alias,
and committed), and each one's webhook URL is printed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from keel.actions.registry import default_registry
from keel.api.commits import WEBHOOK_UNCHANGED
from keel.cli.apply import alias_of, apply_text
from keel.cli.client import ApiCallError, ApiClient
from keel.config import get_settings
from keel.dsl.validation import validate_text
from keel.processes import event_loop
from keel.processes.api import default_api_processes, serve_api
from keel.processes.up import UpOptions, default_workers, run_up
from keel.processes.worker import run_worker

HostOption = Annotated[
    str | None, typer.Option("--host", help="API interface (default: KEEL_API_HOST, 127.0.0.1).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", help="API port (default: KEEL_API_PORT or 8000).")
]
ProcessesOption = Annotated[
    int | None,
    typer.Option(
        "--processes", min=1, max=64, help="API server processes (default: one per 4 cores)."
    ),
]


def api(
    host: HostOption = None, port: PortOption = None, processes: ProcessesOption = None
) -> None:
    """Serve the HTTP API only, against KEEL_TEMPORAL_ADDRESS (or `keel up`) and the store."""
    settings = get_settings()
    count = processes or default_api_processes()
    bound_host = host or settings.api_host
    bound_port = settings.api_port if port is None else port
    Console(stderr=True, highlight=False).print(
        f"Keel API on http://{bound_host}:{bound_port} ({count} process(es)); Ctrl-C to stop"
    )
    serve_api(settings, bound_host, bound_port, count)


def worker(
    nice: Annotated[
        int | None,
        typer.Option(
            "--nice",
            min=0,
            max=19,
            help="Lower this process's CPU priority by N (KEEL_WORKER_NICE; `keel up` uses 5 so "
            "that accepting work stays quick on a saturated machine).",
        ),
    ] = None,
) -> None:
    """Run a worker against Temporal (several processes and machines share the work)."""
    settings = get_settings()
    if nice is not None:
        settings = settings.model_copy(update={"worker_nice": nice})
    event_loop.run(run_worker(settings, Console(stderr=True, highlight=False)), settings.event_loop)


def up(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Workflow files to apply (by alias) and commit once up."),
    ] = None,
    port: PortOption = None,
    host: HostOption = None,
    processes: ProcessesOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Worker processes (default: cores / 2)."),
    ] = None,
    temporal_port: Annotated[
        int | None,
        typer.Option(
            "--temporal-port",
            min=1,
            max=65535,
            help="The dev server's port (default: 7233 when free, else any free port).",
        ),
    ] = None,
) -> None:
    """Run Keel in the foreground: Temporal, the API and workers as supervised processes."""
    settings = get_settings()
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    documents = _read_valid(files or [], console)
    options = UpOptions(
        host=host or settings.api_host,
        port=settings.api_port if port is None else port,
        api_processes=processes or default_api_processes(),
        workers=workers or default_workers(),
        temporal_port=temporal_port,
    )

    async def apply_files(url: str, key: str) -> None:
        await asyncio.to_thread(_apply, documents, url, key, console)

    asyncio.run(run_up(settings, options, console, apply_files))


def _apply(documents: list[tuple[Path, str]], url: str, key: str, console: Console) -> None:
    """Apply and commit each document through the API; print its webhook URL."""
    with ApiClient(url, key) as client:
        for path, text in documents:
            try:
                entry = apply_text(client, text, alias_of(path, text))
            except ApiCallError as exc:
                console.print(f"[red]{escape(str(path))}: not applied: {escape(str(exc))}[/]")
                continue
            # The webhook URL is shown once, when it is made; a later commit keeps it unchanged.
            webhook = entry["webhook_url"] or WEBHOOK_UNCHANGED.format(id=entry["id"])
            console.print(
                f"applied {escape(str(path))}: {entry['alias']} ({entry['id']}) "
                f"version {entry['version']}\n  webhook: {escape(webhook)}"
            )


def _read_valid(files: list[Path], console: Console) -> list[tuple[Path, str]]:
    """Read and validate every file; print every problem and exit 1 if any file is not valid."""
    registry = default_registry()
    documents = []
    broken = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            console.print(f"[red]{escape(str(path))}: cannot read the file: {escape(str(exc))}[/]")
            broken = True
            continue
        result = validate_text(text, registry, file=str(path))
        for problem in result.errors:
            console.print(f"[red]{escape(str(problem))}[/]")
        broken = broken or not result.ok
        documents.append((path, text))
    if broken:
        console.print("[bold red]not starting: fix the workflow files above first[/]")
        raise typer.Exit(1)
    return documents
