"""``keel blobs prune``: delete large values no recent run wrote, straight in the store.

Values too large for Temporal's history live in Keel's store (``keel.orchestration.
payload_storage``). Nothing deletes them on its own: a blob may be read as long as a run's
history is kept. This command deletes the ones not written for a given time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer

from keel.config import get_settings
from keel.dsl.duration import parse_duration
from keel.errors import ConfigError
from keel.store.blobs import prune_blobs
from keel.store.database import Database
from keel.store.tables import utcnow


def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete blobs not written for this long (e.g. 30d, 2w, 720h). Choose more "
            "than Temporal's retention plus your longest run.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say how many blobs would go.")
    ] = False,
) -> None:
    """Delete stored large values that no run wrote for --older-than."""
    seconds = parse_duration(older_than)
    if seconds is None or seconds <= 0:
        raise ConfigError(
            f"--older-than: '{older_than}' is not a duration; use e.g. 30d, 2w or 720h"
        )
    count, size = asyncio.run(_prune(timedelta(seconds=seconds), dry_run))
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {count} blob(s), {size:,} bytes, not written for {older_than}")


async def _prune(age: timedelta, dry_run: bool) -> tuple[int, int]:
    async with Database.from_settings(get_settings()) as database:
        await database.migrate()
        async with database.session() as session:
            return await prune_blobs(session, utcnow() - age, dry_run=dry_run)
