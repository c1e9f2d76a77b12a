"""``keel validate FILE...``: check workflow documents the way a commit would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from keel.actions.registry import default_registry
from keel.dsl.validation import ValidationResult, validate_file


def validate(
    files: Annotated[list[Path], typer.Argument(help="Workflow files (YAML or JSON).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the problems as JSON instead of text.")
    ] = False,
) -> None:
    """Check workflow files and print every problem with its file, line, action and field.

    Exits 0 when every file is valid (warnings allowed), 1 otherwise.
    """
    registry = default_registry()
    results = {str(path): validate_file(path, registry) for path in files}
    if as_json:
        payload = {
            name: {"valid": r.ok, "problems": [p.to_dict() for p in r.problems]}
            for name, r in results.items()
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        _print_text(results)
    if not all(r.ok for r in results.values()):
        raise typer.Exit(1)


def _print_text(results: dict[str, ValidationResult]) -> None:
    out = Console(highlight=False, soft_wrap=True)
    for name, result in results.items():
        for problem in result.problems:
            style = "red" if problem.severity == "error" else "yellow"
            out.print(f"[{style}]{escape(str(problem))}[/{style}]")
            if problem.expression:
                out.print(f"    expression: {escape(problem.expression)}")
        errors = len(result.errors)
        warnings = len(result.problems) - errors
        if errors:
            out.print(f"[bold red]{escape(name)}: {errors} error(s), {warnings} warning(s)[/]")
        else:
            suffix = f" ({warnings} warning(s))" if warnings else ""
            out.print(f"[bold green]{escape(name)}: valid{suffix}[/]")
