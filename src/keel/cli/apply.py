"""``keel apply FILE...``: create or update each workflow by alias, and commit it.

The alias of a file is the document's top-level ``alias`` key when it has one (Keel reads it;
other tools ignore it), else the file name without its extension (``triage.yml`` -> ``triage``).
A file identical to the workflow's latest version adds no version and is reported as
``unchanged``. Each file is applied on its own: a refused commit prints every problem with its
file and line and the command exits 1, but the other files are still applied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from keel.api.commits import WEBHOOK_UNCHANGED
from keel.cli.client import ApiCallError, ApiClient, JsonOption, KeyOption, UrlOption
from keel.dsl.diagnostics import Problem, Severity
from keel.dsl.yaml_safety import load as load_yaml

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def apply(
    files: Annotated[list[Path], typer.Argument(help="Workflow files (YAML or JSON).")],
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create or update each workflow (by alias) and commit it; print its version and webhook."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    applied: list[dict[str, Any]] = []
    failed = False
    with ApiClient(url, api_key) as client:
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                err.print(f"[red]{escape(str(path))}: cannot read the file: {escape(str(exc))}[/]")
                failed = True
                continue
            try:
                applied.append(apply_text(client, text, alias_of(path, text)))
            except ApiCallError as exc:
                failed = True
                _print_refusal(err, path, exc)
                continue
            if not as_json:
                entry = applied[-1]
                what = (
                    f"unchanged, version {entry['version']} (no version added)"
                    if entry["unchanged"]
                    else f"committed version {entry['version']}"
                )
                out.print(
                    f"[green]{escape(str(path))}[/]: {what}\n"
                    f"  alias:   {escape(entry['alias'])}\n"
                    f"  webhook: {escape(_webhook(entry))}"
                )
    if as_json:
        typer.echo(json.dumps(applied, indent=2))
    if failed:
        raise typer.Exit(1)


def alias_of(path: Path, text: str) -> str:
    """Return the alias a file is applied under (its ``alias`` key, else its stem)."""
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        data = None
    alias = data.get("alias") if isinstance(data, dict) else None
    if isinstance(alias, str) and _ALIAS.match(alias):
        return alias
    return path.stem


def apply_text(client: ApiClient, text: str, alias: str) -> dict[str, Any]:
    """Create or update workflow ``alias`` with ``text`` and commit it; return the summary.

    One request (``POST /workflows/apply``): a refused document changes nothing on the server,
    and a document identical to the latest version adds none (``unchanged`` is true).
    """
    committed = client.json("POST", "/workflows/apply", json={"yaml": text, "alias": alias})
    return {
        "id": committed["id"],
        "alias": committed["alias"],
        "version": committed["version"],
        "webhook_url": committed["webhook_url"],
        "unchanged": bool(committed.get("unchanged", False)),
    }


def _webhook(entry: dict[str, Any]) -> str:
    """Return the webhook URL to print: the new one, or why an existing one is not shown."""
    return str(entry["webhook_url"] or WEBHOOK_UNCHANGED.format(id=entry["id"]))


def _print_refusal(err: Console, path: Path, exc: ApiCallError) -> None:
    if not exc.problems:
        err.print(f"[red]{escape(str(path))}: {escape(str(exc))}[/]")
        return
    for data in exc.problems:
        problem = _problem(data, str(path))
        style = "red" if problem.severity == "error" else "yellow"
        err.print(f"[{style}]{escape(str(problem))}[/{style}]")
    err.print(f"[bold red]{escape(str(path))}: {escape(exc.message)}[/]")


def _problem(data: dict[str, Any], file: str) -> Problem:
    severity: Severity = "warning" if data.get("severity") == "warning" else "error"
    line = data.get("line")
    return Problem(
        message=str(data.get("message", "")),
        file=file,
        line=line if isinstance(line, int) else None,
        ref=data.get("ref") if isinstance(data.get("ref"), str) else None,
        field=data.get("field") if isinstance(data.get("field"), str) else None,
        expression=data.get("expression") if isinstance(data.get("expression"), str) else None,
        severity=severity,
    )
