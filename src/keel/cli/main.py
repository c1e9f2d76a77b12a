"""The ``keel`` command: a Typer app whose commands are thin calls into the layers below.

Every command turns a :class:`keel.errors.KeelError` into a clear message and exit code 1; only a
bug shows a traceback (and then ``KEEL_DEBUG``-style verbosity is the log's job, not the user's).
"""

from __future__ import annotations

import typer

from keel.cli import run as run_cmd
from keel.cli import stack as stack_cmd
from keel.cli import validate as validate_cmd

app = typer.Typer(
    name="keel",
    help="Keel: durable workflow automation. Validate, run and serve YAML workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("validate")(validate_cmd.validate)
app.command("run")(run_cmd.run)
app.command("worker")(stack_cmd.worker)
app.command("up")(stack_cmd.up)


def main() -> None:
    """Run the ``keel`` command line (the console-script entry point)."""
    app()


if __name__ == "__main__":
    main()
