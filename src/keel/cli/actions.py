"""``keel actions list|show NAME``: the actions this process can run, Python and templates alike.

Reads the same registry the CLI, the API and the workers build (core actions, installed
packages' ``keel.actions`` entry points, ``KEEL_ACTION_MODULES``, ``KEEL_TEMPLATE_PATHS``), so it
shows exactly what a workflow may call here. Sources that failed to load are reported on stderr
when the registry is built (and listed under ``problems`` with ``--json``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from keel.actions.registry import ActionSpec, default_registry
from keel.actions.schema import did_you_mean
from keel.errors import RegistryError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def list_actions(
    namespace: Annotated[
        str | None,
        typer.Argument(help="Only actions whose name starts with this (e.g. core.transform)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the actions workflows can call: name, kind and title."""
    registry = default_registry()
    specs = [s for s in registry.specs() if namespace is None or s.name.startswith(namespace)]
    if as_json:
        payload = {
            "actions": [_summary(spec) for spec in specs],
            "problems": [{"source": p.source, "message": p.message} for p in registry.problems],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    out = Console(highlight=False)
    # Names are what a workflow copies: shown whole; titles get the room that is left.
    width = max((len(spec.name) for spec in specs), default=4)
    room = max(out.width - width - 12, 10)
    out.print(f"[bold]{'name':<{width}}  {'kind':<8}  title[/]")
    for spec in specs:
        title = _title(spec)
        if len(title) > room:
            title = title[: room - 1] + "…"
        out.print(f"{escape(spec.name):<{width}}  {spec.kind:<8}  {escape(title)}")
    # Sources that failed to load were reported on stderr when the registry was built.


def show(
    name: Annotated[str, typer.Argument(help="The action's dotted name.")],
    as_json: JsonFlag = False,
) -> None:
    """Describe one action: what it does, its arguments with their types, its secrets."""
    registry = default_registry()
    spec = registry.find(name)
    if spec is None:
        try:
            registry.get(name)  # the registry's own message: a Tracecat gap or a near name
        except RegistryError as exc:
            raise RegistryError(f"{exc}; `keel actions list` shows them all") from None
        raise RegistryError(f"unknown action {name!r}{did_you_mean(name, registry.names())}")
    if as_json:
        typer.echo(json.dumps({**_summary(spec), "args_schema": spec.args_schema()}, indent=2))
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]{escape(spec.name)}[/] ({spec.kind})")
    if spec.title:
        out.print(escape(spec.title))
    if spec.description:
        out.print(escape(spec.description))
    if spec.display_group:
        out.print(f"group: {escape(spec.display_group)}")
    out.print(f"from: {escape(spec.origin)}")
    if spec.parameters:
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in ("argument", "type", "default", "description"):
            table.add_column(column, overflow="fold")
        for param in spec.parameters:
            default = "required" if param.required else json.dumps(param.default, default=str)
            table.add_row(
                escape(param.name),
                escape(param.annotation_text),
                escape(default),
                escape(param.description),
            )
        out.print(table)
    else:
        out.print("arguments: none")
    for item in registry.required_secrets(spec.name):
        keys = ", ".join(item.keys) or "no required keys"
        extra = f"; optional: {', '.join(item.optional_keys)}" if item.optional_keys else ""
        optional = " (optional)" if item.optional else ""
        out.print(f"secret: {escape(item.name)}{optional}: {escape(keys + extra)}")
    if spec.steps:
        out.print(f"steps call: {escape(', '.join(spec.steps))}")


def _summary(spec: ActionSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "title": spec.title,
        "description": spec.description,
        "display_group": spec.display_group,
        "origin": spec.origin,
        "arguments": [
            {
                "name": p.name,
                "type": p.annotation_text,
                "required": p.required,
                "default": None if p.required else p.default,
                "description": p.description,
            }
            for p in spec.parameters
        ],
        "secrets": [s.to_dict() for s in spec.secrets],
    }


def _title(spec: ActionSpec) -> str:
    return spec.title or spec.description.split(". ")[0].rstrip(".")
