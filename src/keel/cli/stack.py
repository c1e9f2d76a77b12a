"""``keel worker`` and ``keel up``: long-running processes of the embedded stack.

``keel up`` is the whole service in one process and one event loop: Temporal (a dev server, or
``KEEL_TEMPORAL_ADDRESS``), a worker, and the HTTP API (``http://127.0.0.1:8000`` by default).
Workers read ``SECRETS`` from the store (encrypted at rest), or from ``KEEL_SECRETS_FILE`` when
that is set. Workflow files given to ``keel up`` are validated first (a broken one stops it before
anything starts), then applied (created or updated by alias, and committed), and each one's
webhook URL is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from keel.actions.registry import default_registry
from keel.api.app import create_app
from keel.api.catalog import StoreCatalog
from keel.api.commits import apply_document, webhook_line
from keel.api.server import ApiServer
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.cli.apply import alias_of
from keel.config import Settings, get_settings
from keel.dsl.validation import validate_text
from keel.orchestration.secrets import SecretsProvider
from keel.orchestration.stack import EmbeddedStack
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets


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
        database = Database.from_settings(settings)
        try:
            async with EmbeddedStack(
                settings, secrets=_secrets(settings, database), catalog=StoreCatalog(database)
            ) as stack:
                console.print(
                    f"worker polling task queue '{stack.task_queue}' on {stack.address} "
                    f"(executor: {settings.executor}); Ctrl-C to stop"
                )
                await _until_signal()
        finally:
            await database.dispose()

    asyncio.run(main())


def up(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Workflow files to apply (by alias) and commit once up."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="API port (default: KEEL_API_PORT or 8000).")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="API interface (default: 127.0.0.1).")
    ] = None,
) -> None:
    """Run Keel in the foreground: Temporal, a worker and the HTTP API; apply FILEs."""
    settings = get_settings()
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    documents = _read_valid(files or [], console)
    asyncio.run(_serve(settings, documents, host or settings.api_host, port, console))


async def _serve(
    settings: Settings,
    documents: list[tuple[Path, str]],
    host: str,
    port: int | None,
    console: Console,
) -> None:
    database = Database.from_settings(settings)
    try:
        await database.migrate()
        cipher = SecretCipher.from_settings(settings)
        secrets = _secrets(settings, database, cipher)
        async with EmbeddedStack(
            settings, ui=True, publish=True, secrets=secrets, catalog=StoreCatalog(database)
        ) as stack:
            assert stack.client is not None
            console.print(f"Temporal: {stack.address}")
            if stack.server is not None and stack.server.ui_url:
                console.print(f"Temporal UI: {stack.server.ui_url}")
            console.print(f"worker: task queue '{stack.task_queue}', executor {settings.executor}")
            state = ServiceState(database, cipher, stack.client, stack.task_queue, eager=True)
            install_trigger_hooks(state)
            app = create_app(state)
            api_port = settings.api_port if port is None else port
            async with ApiServer(app, host, api_port) as server:
                console.print(
                    f"Console: {server.url}/ (sign in with a key from `keel apikey create`)"
                )
                console.print(f"API: {server.url} (docs: {server.url}/docs)")
                for path, text in documents:
                    result = await apply_document(state, text, alias_of(path, text), str(path))
                    console.print(
                        f"applied {escape(str(path))}: {result.alias} ({result.workflow_id}) "
                        f"version {result.version}\n"
                        f"  webhook: {webhook_line(server.url, result)}"
                    )
                console.print("Keel is up; Ctrl-C to stop")
                await _until_signal(server.stopped)
    finally:
        await database.dispose()


def _secrets(
    settings: Settings, database: Database, cipher: SecretCipher | None = None
) -> SecretsProvider | None:
    """Return where workers read ``SECRETS``: the store, unless ``KEEL_SECRETS_FILE`` is set."""
    if settings.secrets_file:
        return None  # the stack reads the file
    return StoreSecrets(database, cipher or SecretCipher.from_settings(settings))


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


async def _until_signal(stopped: asyncio.Task[None] | None = None) -> None:
    """Wait for SIGINT/SIGTERM (or for ``stopped`` to end, e.g. the API server failing)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    waiter: asyncio.Task[object] = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[object]] = {waiter}
    if stopped is not None:
        waiting.add(stopped)
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
