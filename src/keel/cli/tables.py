"""Tables the service commands print: narrow enough for an 80-column terminal.

By default a table shows what a person reads (a workflow's alias, a run's status, short times) and
ids only as long as they need to be told apart; ``--wide`` shows every id in full, and ``--json``
everything the API returned. Run ids are shown by their shortest unique prefix (at least
:data:`MIN_ID`), as git shows commits; the commands that take a run id accept such a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keel.cli.client import ApiClient

#: The shortest id prefix a table shows.
MIN_ID = 12

#: The narrowest a flexible column (a name) is cut to.
MIN_FLEXIBLE = 8

#: The most workflows fetched to name them by alias.
MAX_WORKFLOWS = 1000

WideOption = Annotated[
    bool, typer.Option("--wide", help="Show full ids and every column (wider than 80 columns).")
]


def table(*columns: str) -> Table:
    """Return an empty borderless table; every column keeps one line and ellipsizes instead."""
    made = Table(header_style="bold", box=None, pad_edge=False)
    for column in columns:
        made.add_column(column, no_wrap=True, overflow="ellipsis")
    return made


def fitted(shown: Table, width: int, *flexible: str) -> Table:
    """Return ``shown`` sized to ``width`` columns, only the ``flexible`` columns giving way.

    Ids, statuses and times cut short are useless, so every other column keeps its whole
    width; the ``flexible`` ones (names, descriptions) share what is left, each down to
    :data:`MIN_FLEXIBLE`, and end in an ellipsis when cut.
    """
    natural: dict[int, int] = {}
    for index, column in enumerate(shown.columns):
        cells = [str(column.header), *(str(c) for c in column.cells)]
        natural[index] = max(Text.from_markup(c).cell_len for c in cells)
    loose = [i for i, c in enumerate(shown.columns) if str(c.header) in flexible]
    fixed = sum(w for i, w in natural.items() if i not in loose)
    room = width - fixed - 2 * (len(shown.columns) - 1)  # two spaces between columns
    # Water-filling: narrow flexible columns keep their width, wide ones share the rest.
    for position, index in enumerate(sorted(loose, key=natural.__getitem__)):
        share = max(MIN_FLEXIBLE, room // (len(loose) - position))
        given = min(natural[index], share)
        shown.columns[index].max_width = given
        room -= given
    for index, column in enumerate(shown.columns):
        if index not in loose:
            column.min_width = natural[index]
    return shown


def show_table(shown: Table, *flexible: str, wide: bool = False) -> None:
    """Print ``shown`` to stdout: fitted to the terminal, or (``wide``) at its natural width."""
    out = Console(highlight=False)
    if wide:
        # Measured on an unbounded console: a console measures only up to its own width.
        needed = Console(width=100_000).measure(shown).maximum
        out = Console(highlight=False, width=max(needed, out.width))
        out.print(shown)
    else:
        out.print(fitted(shown, out.width, *flexible))


def id_width(ids: Sequence[str], minimum: int = MIN_ID) -> int:
    """Return the shortest prefix length that tells ``ids`` apart.

    It is at least ``minimum``, or the longest id's length when every id is shorter than that.
    """
    longest = max((len(i) for i in ids), default=minimum)
    for width in range(minimum, longest + 1):
        if len({i[:width] for i in ids}) == len(set(ids)):
            return width
    return longest


def workflow_aliases(client: ApiClient) -> dict[str, str]:
    """Return each workflow's alias (its title when it has none) by workflow id."""
    rows = client.json("GET", "/workflows", params={"limit": MAX_WORKFLOWS})
    return {row["id"]: row.get("alias") or row.get("title") or row["id"] for row in rows}


def short_time(value: str | None) -> str:
    """Return ``MM-DD HH:MM:SS`` (UTC, as the API gives it) of an ISO time, or ``""``."""
    if not value:
        return ""
    return value.replace("T", " ")[5:19]


def full_time(value: str | None) -> str:
    """Return ``YYYY-MM-DD HH:MM:SS`` of an ISO time, or ``""``."""
    return value.replace("T", " ")[:19] if value else ""


def took(started: str | None, ended: str | None) -> str:
    """Return how long a run took, with a unit (``850ms``, ``12.4s``, ``3m05s``, ``2h10m``)."""
    if not started or not ended:
        return ""
    try:
        seconds = (_parse(ended) - _parse(started)).total_seconds()
    except ValueError:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cell(value: Any) -> str:
    """Return a table cell's text for an optional value (``-`` for none)."""
    return "-" if value is None or value == "" else str(value)
