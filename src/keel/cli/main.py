"""The ``keel`` command: a Typer app whose commands are thin calls into the layers below.

Every command runs inside :func:`guarded`: a :class:`keel.errors.KeelError` that escapes it is
printed as one line with exit code 1; anything else is a bug in Keel, printed as one line too
(exit code 2), with the traceback only under ``KEEL_DEBUG=true``. Users never see a traceback
for bad input.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from keel.cli import actions as actions_cmd
from keel.cli import apikey as apikey_cmd
from keel.cli import apply as apply_cmd
from keel.cli import blobs as blobs_cmd
from keel.cli import run as run_cmd
from keel.cli import runs as runs_cmd
from keel.cli import schedules as schedules_cmd
from keel.cli import secrets as secrets_cmd
from keel.cli import stack as stack_cmd
from keel.cli import validate as validate_cmd
from keel.cli.version import keel_version
from keel.config import get_settings
from keel.errors import KeelError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="keel",
    help="Keel: durable workflow automation. Validate, run and serve YAML workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click-style) help: the rich help of this Typer prints a metavar for every flag
    # (``--json <bool>``), which reads as if the flag took a value.
    rich_markup_mode=None,
)


def _print_version(wanted: bool) -> None:
    """Print Keel's version and stop (the eager ``--version`` option)."""
    if wanted:
        typer.echo(f"keel {keel_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print Keel's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Keel: durable workflow automation. Validate, run and serve YAML workflows."""


def _debugging() -> bool:
    """Return whether ``KEEL_DEBUG`` asks for tracebacks (False when the settings are broken)."""
    try:
        return get_settings().debug
    except KeelError:
        return False


def guarded(command: F) -> F:
    """Wrap a command so errors become one clear line and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeelError as exc:
            Console(stderr=True, highlight=False).print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debugging():
                raise
            Console(stderr=True, highlight=False).print(
                f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} "
                "(a bug in Keel; run with KEEL_DEBUG=true to see the traceback)"
            )
            raise typer.Exit(2) from exc

    return wrapper  # type: ignore[return-value]


app.command("validate")(guarded(validate_cmd.validate))
app.command("run")(guarded(run_cmd.run))
app.command("api")(guarded(stack_cmd.api))
app.command("worker")(guarded(stack_cmd.worker))
app.command("up")(guarded(stack_cmd.up))
app.command("apply")(guarded(apply_cmd.apply))

actions_app = typer.Typer(help="The actions workflows can call (core, packages, templates).")
actions_app.command("list")(guarded(actions_cmd.list_actions))
actions_app.command("show")(guarded(actions_cmd.show))
app.add_typer(actions_app, name="actions")

runs_app = typer.Typer(help="List, inspect, cancel and re-run runs (through the API).")
runs_app.command("list")(guarded(runs_cmd.list_runs))
runs_app.command("show")(guarded(runs_cmd.show))
runs_app.command("events")(guarded(runs_cmd.events))
runs_app.command("cancel")(guarded(runs_cmd.cancel))
runs_app.command("terminate")(guarded(runs_cmd.terminate))
runs_app.command("rerun")(guarded(runs_cmd.rerun))
app.add_typer(runs_app, name="runs")

secrets_app = typer.Typer(help="Set, list and delete secrets (through the API).")
secrets_app.command("set")(guarded(secrets_cmd.set_secret))
secrets_app.command("list")(guarded(secrets_cmd.list_secrets))
secrets_app.command("delete")(guarded(secrets_cmd.delete_secret))
app.add_typer(secrets_app, name="secrets")

apikey_app = typer.Typer(help="Create API keys (straight in the store; no server needed).")
apikey_app.command("create")(guarded(apikey_cmd.create))
app.add_typer(apikey_app, name="apikey")

blobs_app = typer.Typer(help="Large values kept outside Temporal's history (in the store).")
blobs_app.command("prune")(guarded(blobs_cmd.prune))
app.add_typer(blobs_app, name="blobs")

schedules_app = typer.Typer(
    help="List, pause, resume, run and backfill schedules (through the API)."
)
schedules_app.command("list")(guarded(schedules_cmd.list_schedules))
schedules_app.command("show")(guarded(schedules_cmd.show))
schedules_app.command("pause")(guarded(schedules_cmd.pause))
schedules_app.command("resume")(guarded(schedules_cmd.resume))
schedules_app.command("trigger")(guarded(schedules_cmd.trigger))
schedules_app.command("backfill")(guarded(schedules_cmd.backfill))
app.add_typer(schedules_app, name="schedules")


def main() -> None:
    """Run the ``keel`` command line (the console-script entry point).

    The process leaves with ``os._exit`` once the command is done and its output flushed.
    Temporal's core runs native threads that can call into Python while the interpreter is
    finalizing, which aborts the process (SIGABRT) after a command that succeeded; every
    resource (worker, executor, dev server) is closed explicitly by the commands, so skipping
    finalization loses nothing.
    """
    code = 0
    try:
        app()
    except SystemExit as done:
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
            code = 1
        else:
            code = done.code or 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
