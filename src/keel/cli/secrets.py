"""``keel secrets set|list|delete``: secrets per environment through the API (values go in only)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from keel.cli.client import ApiClient, JsonOption, KeyOption, UrlOption
from keel.cli.tables import full_time, show_table, table
from keel.errors import KeelError

EnvOption = Annotated[str, typer.Option("--env", "-e", help="The secrets environment.")]


def set_secret(
    name: Annotated[str, typer.Argument(help="The secret's name (SECRETS.<name>.<key>).")],
    pairs: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs (all of the secret's keys).")],
    environment: EnvOption = "default",
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Create or replace a secret; its values are encrypted at rest and never shown again."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise KeelError(f"'{pair}' is not KEY=VALUE")
        values[key] = value
    with ApiClient(url, api_key) as client:
        info = client.json(
            "PUT", f"/secrets/{name}", params={"environment": environment}, json={"values": values}
        )
    typer.echo(
        f"secret {info['name']} set in {info['environment']} (keys: {', '.join(info['keys'])})"
    )


def list_secrets(
    environment: Annotated[
        str | None, typer.Option("--env", "-e", help="Only this environment (default: all).")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List secrets: names and key names, never values."""
    params = {"environment": environment} if environment else {}
    with ApiClient(url, api_key) as client:
        found = client.json("GET", "/secrets", params=params)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    shown = table("environment", "name", "keys", "updated")
    for secret in found:
        shown.add_row(
            escape(secret["environment"]),
            escape(secret["name"]),
            escape(", ".join(secret["keys"])),
            full_time(secret["updated_at"]),
        )
    if found:
        show_table(shown, "name", "keys")
    else:
        typer.echo("no secrets")


def delete_secret(
    name: Annotated[str, typer.Argument(help="The secret's name.")],
    environment: EnvOption = "default",
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Delete a secret."""
    with ApiClient(url, api_key) as client:
        client.call("DELETE", f"/secrets/{name}", params={"environment": environment})
    typer.echo(f"secret {name} deleted from {environment}")
