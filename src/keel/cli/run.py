"""``keel run FILE``: validate a workflow, check its input, run it on the embedded stack.

The run is a real Temporal run (durable, recorded), started eagerly on an in-process worker. On a
terminal it shows each action's status live; ``--json`` prints only the result as JSON, and
``--context`` prints ``{"ACTIONS": ..., "TRIGGER": ...}`` instead of the ``returns`` value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from keel.actions.registry import default_registry
from keel.cli.recording import RunningStack, RunRecorder, cli_run_id, running_stack
from keel.cli.variables import read_variables
from keel.config import Settings, get_settings
from keel.console.pages import PREFIX as CONSOLE_PREFIX
from keel.dsl.expects import check_inputs
from keel.dsl.model import Workflow
from keel.dsl.validation import validate_file
from keel.errors import KeelError
from keel.orchestration.catalog import DirectoryCatalog
from keel.orchestration.client import StartedRun, progress, start_run, wait_result
from keel.orchestration.payloads import RunProgress
from keel.orchestration.stack import EmbeddedStack
from keel.triggers.bounds import InputBounds

_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
}


def run(
    workflow: Annotated[
        str, typer.Argument(help="A workflow file (YAML or JSON).", metavar="FILE")
    ],
    input_: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", help="Trigger input: a JSON text, or @file.json.", metavar="JSON"
        ),
    ] = None,
    vars_: Annotated[
        str | None,
        typer.Option(
            "--vars",
            help="VARS of the run: a JSON object of variables, each an object of keys "
            '(\'{"slack": {"channel": "#soc"}}\' is read as VARS.slack.channel), or @file.json.',
            metavar="JSON",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the result, as JSON, on stdout.")
    ] = False,
    show_context: Annotated[
        bool, typer.Option("--context", help="Print the run's ACTIONS and TRIGGER context.")
    ] = False,
    workflows: Annotated[
        list[Path] | None,
        typer.Option(
            "--workflows",
            "-w",
            help="Folders or files of workflows that child runs may call (alias = file stem).",
            metavar="PATH",
        ),
    ] = None,
) -> None:
    """Run a workflow to completion and print its result (exit 1 if it fails)."""
    err = Console(stderr=True, highlight=False)
    path = Path(workflow)
    if not path.is_file():
        err.print(f"[red]{escape(workflow)}: no such workflow file[/]")
        raise typer.Exit(1)
    result = validate_file(path, default_registry())
    if not result.ok or result.workflow is None:
        for problem in result.errors:
            err.print(f"[red]{escape(str(problem))}[/]")
        err.print(f"[bold red]{escape(workflow)} is not valid; no run was started[/]")
        raise typer.Exit(1)
    try:
        trigger = _read_input(input_)
        variables = read_variables(vars_)
    except KeelError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    trigger, messages = check_inputs(result.workflow.entrypoint.expects, trigger)
    if messages:
        for message in messages:
            err.print(f"[red]input: {escape(message)}[/]")
        err.print("[bold red]the input does not match entrypoint.expects; no run was started[/]")
        raise typer.Exit(1)
    catalog = DirectoryCatalog(list(workflows)) if workflows else DirectoryCatalog([path.parent])
    live = err.is_terminal and not as_json
    try:
        value, context = asyncio.run(
            _run(
                result.workflow,
                _Launch(trigger, variables, path.stem, show_context),
                err,
                live,
                catalog,
            )
        )
    except KeelError as exc:
        err.print(f"[bold red]run failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    output = context if show_context else value
    text = json.dumps(output, indent=None if as_json else 2, ensure_ascii=False, default=str)
    typer.echo(text)


def _read_input(raw: str | None) -> Any:
    if raw is None:
        return {}
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeelError(f"--input: cannot read {raw[1:]}: {exc.strerror}") from exc
    bounds = InputBounds.from_settings(get_settings())
    if len(text.encode("utf-8")) > bounds.max_body_bytes:
        raise KeelError(
            f"--input is larger than the limit of {bounds.max_body_bytes} bytes "
            "(KEEL_MAX_BODY_BYTES)"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeelError(
            f"--input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError:
        raise KeelError(
            f"--input is nested more than {bounds.max_json_depth} levels deep "
            "(the limit is KEEL_MAX_JSON_DEPTH)"
        ) from None
    problem = bounds.depth_problem(value, "--input")
    if problem is not None:
        raise KeelError(problem)
    return value


@dataclass(frozen=True)
class _Launch:
    """What one ``keel run`` starts: the checked input, VARS, the file's name, what to print."""

    trigger: Any
    variables: dict[str, Any]
    name: str
    want_context: bool


async def _run(
    workflow: Workflow,
    launch: _Launch,
    err: Console,
    live: bool,
    catalog: DirectoryCatalog,
) -> tuple[Any, Any]:
    settings = get_settings()
    running = running_stack(settings)
    recorder = RunRecorder.for_settings(settings)
    try:
        async with EmbeddedStack(settings, catalog=catalog) as stack:
            assert stack.client is not None
            at = datetime.now(UTC)
            started = await start_run(
                stack.client,
                workflow,
                task_queue=stack.task_queue,
                trigger=launch.trigger,
                workflow_id=launch.name,
                execution_id=cli_run_id(launch.name),
                eager=True,
                variables=launch.variables,
            )
            await recorder.started(started.execution_id, at)
            _announce(err, settings, started.execution_id, running)
            try:
                if live:
                    value = await _watch(started, err)
                else:
                    value = await wait_result(started)
            finally:
                await recorder.ended(stack.client, started.execution_id)
            context = None
            if launch.want_context:
                context = await started.handle.query("context", result_type=dict)
            return value, context
    finally:
        for warning in recorder.warnings:
            err.print(f"[yellow]warning: {escape(warning)}[/]")
        await recorder.close()


def _announce(
    err: Console, settings: Settings, execution_id: str, running: RunningStack | None
) -> None:
    """Say which run started and where the console shows it (stderr: keeps ``--json`` clean).

    Without a ``keel up`` the run is still recorded in this folder's store, so the page exists as
    soon as one is started here: say so rather than print a link that does not answer yet.
    """
    err.print(f"run {escape(execution_id)}")
    page = f"{CONSOLE_PREFIX}/runs/{escape(execution_id)}"
    if running is not None and running.api_url:
        err.print(f"console: {escape(running.api_url)}{page}", soft_wrap=True)
    else:
        base = f"http://{settings.api_host}:{settings.api_port}"
        # soft_wrap: a link cut in two by the terminal width cannot be copied.
        err.print(
            f"console: {escape(base)}{page} (once `keel up` runs in this folder)", soft_wrap=True
        )


async def _watch(started: StartedRun, console: Console) -> Any:
    """Wait for the run while redrawing a table of its actions."""
    waiter = asyncio.ensure_future(wait_result(started))
    with Live(console=console, refresh_per_second=8, transient=False) as live:
        while not waiter.done():
            # Progress is a courtesy: a failed query (worker busy, run just ended) must never
            # fail the run or hide its result.
            with contextlib.suppress(Exception):
                live.update(_table(await progress(started)))
            await asyncio.wait({waiter}, timeout=0.15)
        with contextlib.suppress(Exception):
            live.update(_table(await progress(started)))
    return await waiter


def _table(state: RunProgress) -> Table:
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("action")
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("detail")
    for action in state.actions:
        style = _STYLE.get(action.status, "")
        detail = action.error or "; ".join(e.message for e in action.events)
        table.add_row(
            escape(action.ref),
            f"[{style}]{action.status}[/]",
            str(action.attempts or ""),
            escape(detail[:120]),
        )
    return table
