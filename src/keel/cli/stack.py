"""``keel worker`` and ``keel up``: long-running processes of the embedded stack."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer
from rich.console import Console

from keel.config import get_settings
from keel.orchestration.stack import EmbeddedStack


def worker() -> None:
    """Run a worker against Temporal (several may share the work of one Temporal)."""
    settings = get_settings()
    console = Console(stderr=True, highlight=False)
    if not settings.temporal_address and not (settings.home / "stack.json").exists():
        console.print(
            "[red]no Temporal to join: set KEEL_TEMPORAL_ADDRESS or start `keel up` first[/]"
        )
        raise typer.Exit(1)

    async def main() -> None:
        async with EmbeddedStack(settings) as stack:
            console.print(
                f"worker polling task queue '{stack.task_queue}' on {stack.address} "
                f"(executor: {settings.executor}); Ctrl-C to stop"
            )
            await _until_signal()

    asyncio.run(main())


def up() -> None:
    """Run the embedded stack in the foreground: Temporal dev server and a worker."""
    settings = get_settings()
    console = Console(stderr=True, highlight=False)

    async def main() -> None:
        async with EmbeddedStack(settings, ui=True, publish=True) as stack:
            console.print(f"Temporal: {stack.address}")
            if stack.server is not None and stack.server.ui_url:
                console.print(f"Temporal UI: {stack.server.ui_url}")
            console.print(f"worker: task queue '{stack.task_queue}', executor {settings.executor}")
            console.print("Keel is up; Ctrl-C to stop")
            await _until_signal()

    asyncio.run(main())


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
