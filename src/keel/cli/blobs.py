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

from keel.cli.durations import parse_cli_duration
from keel.config import get_settings
from keel.store.blobs import prune_blobs
from keel.store.database import Database
from keel.store.tables import utcnow


def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete blobs not written for this long, with a unit: 30s, 30m, 12h, 30d, "
            "2w. Choose more than Temporal's retention plus your longest run.",
            metavar="DURATION",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say how many blobs would go.")
    ] = False,
) -> None:
    """Delete stored large values that no run wrote for --older-than."""
    seconds, words = parse_cli_duration(older_than, "--older-than")
    count, size = asyncio.run(_prune(timedelta(seconds=seconds), dry_run))
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {count} blob(s), {size:,} bytes, not written for {words}")


async def _prune(age: timedelta, dry_run: bool) -> tuple[int, int]:
    async with Database.from_settings(get_settings()) as database:
        await database.migrate()
        async with database.session() as session:
            return await prune_blobs(session, utcnow() - age, dry_run=dry_run)
