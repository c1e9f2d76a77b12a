"""``keel apikey create``: make an API key straight in the store (no server needed).

The first key has to come from somewhere: this command opens Keel's database (``KEEL_DATABASE_URL``
or ``<home>/keel.db``), migrates it if needed, and prints a new key once.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from keel.config import get_settings
from keel.store import apikeys
from keel.store.database import Database


def create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the key by.")] = "cli",
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    key = asyncio.run(_create(name))
    typer.echo(key)
    typer.echo(
        f"API key '{name}' created; it is shown only this once (send it as "
        "'Authorization: Bearer <key>', or set KEEL_API_KEY for the keel commands)",
        err=True,
    )


async def _create(name: str) -> str:
    async with Database.from_settings(get_settings()) as database:
        await database.migrate()
        async with database.session() as session:
            new = await apikeys.create_api_key(session, name)
    return new.key
