"""The scatter and loop regions of a run, as ``keel runs show`` prints them.

``GET /runs/{id}`` lists, for each action inside a region, one *stream* entry per item (of a
scatter) or pass (of a loop), named by its path: ``items[2]``, ``passes#1``, and nested
``passes#1/items[2]``. The innermost segment names the region the stream belongs to (its opener
action) and which item or pass it is. Here the entries of every action are folded into one line
per region (how many streams, how many in each state) and one line per failed stream (which
action failed in it, and why), every line cut to the terminal's width.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: One segment of a stream path: ``ref[index]`` (a scatter's item) or ``ref#index`` (a pass).
_SEGMENT = re.compile(r"(?P<ref>.+?)(?:\[(?P<item>\d+)\]|#(?P<pass>\d+))$")

#: A stream's state is its worst action's: the first of these that any of its actions is in.
_PRECEDENCE = (
    "failed",
    "timed_out",
    "terminated",
    "cancelled",
    "running",
    "pending",
    "succeeded",
    "skipped",
)

#: How many failed streams of one region are listed (the rest are counted).
MAX_FAILED_SHOWN = 10
#: How many lines a failed stream's error is wrapped to (the rest is cut; --json has it all).
ERROR_LINES = 3


@dataclass
class Stream:
    """One item or pass of a region, as its actions left it.

    Attributes:
        path: The stream's name (``passes#1/items[2]``).
        statuses: Each action's state in this stream, by action ref.
        errors: The error of each action that failed in it, by action ref.
    """

    path: str
    statuses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The stream's state: the worst state of its actions."""
        seen = set(self.statuses.values())
        return next((s for s in _PRECEDENCE if s in seen), min(seen, default="pending"))


@dataclass
class Region:
    """A scatter or loop region of a run, with the streams it ran.

    Attributes:
        opener: The ref of the action that opens it (the scatter or ``core.loop.start``).
        kind: ``scatter`` or ``loop``.
        streams: Its streams by path, in the order the run lists them.
    """

    opener: str
    kind: str
    streams: dict[str, Stream] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return how many of its streams are in each state, most telling state first."""
        counted: dict[str, int] = {}
        for stream in self.streams.values():
            counted[stream.status] = counted.get(stream.status, 0) + 1
        rank = {s: n for n, s in enumerate(_PRECEDENCE)}
        return dict(sorted(counted.items(), key=lambda kv: rank.get(kv[0], -1)))

    def failed(self) -> list[Stream]:
        """Return its streams in which an action failed."""
        return [s for s in self.streams.values() if s.errors or s.status == "failed"]


def regions(actions: Iterable[dict[str, Any]]) -> list[Region]:
    """Return the regions of a run from its actions (``GET /runs/{id}``'s ``actions``)."""
    found: dict[str, Region] = {}
    for action in actions:
        for entry in action.get("streams") or []:
            path = str(entry.get("stream") or "")
            match = _SEGMENT.match(path.rsplit("/", 1)[-1])
            if match is None:
                continue
            opener = match["ref"]
            kind = "scatter" if match["item"] is not None else "loop"
            region = found.setdefault(opener, Region(opener, kind))
            stream = region.streams.setdefault(path, Stream(path))
            status = str(entry.get("status") or "pending")
            stream.statuses[action["ref"]] = status
            if entry.get("error"):
                stream.errors[action["ref"]] = str(entry["error"])
    return list(found.values())


def region_lines(found: list[Region], width: int) -> list[str]:
    """Return the lines that show ``found``, none longer than ``width`` columns.

    A region's line keeps its counts whole and cuts a long opener ref instead; a failed
    stream's error is wrapped under it, up to :data:`ERROR_LINES` lines.
    """
    lines: list[str] = []
    for region in found:
        counts = ", ".join(f"{n} {status}" for status, n in region.counts().items())
        total = len(region.streams)
        singular, plural = ("item", "items") if region.kind == "scatter" else ("pass", "passes")
        tail = f" ({region.kind}): {total} {singular if total == 1 else plural}: {counts}"
        room = max(width - 2 - len(tail), 12)
        lines.append(_cut(f"  {_cut(region.opener, room)}{tail}", width))
        failed = region.failed()
        for stream in failed[:MAX_FAILED_SHOWN]:
            for ref, error in stream.errors.items() or [("?", "failed")]:
                lines.append(_cut(f"    {_which(stream.path)}, {ref}:", width))
                text = " ".join(error.split()) or "failed"
                wrapped = textwrap.wrap(text, max(width - 6, 20), max_lines=ERROR_LINES)
                lines += [_cut(f"      {part}", width) for part in wrapped]
        if len(failed) > MAX_FAILED_SHOWN:
            more = len(failed) - MAX_FAILED_SHOWN
            lines.append(_cut(f"    ... {more} more failed (keel runs show --json)", width))
    return lines


def _which(path: str) -> str:
    """Return how a failure line names its stream: ``item 2``, ``passes#1 item 2``."""
    outer, _, last = path.rpartition("/")
    match = _SEGMENT.match(last)
    if match is None:
        return path
    own = f"item {match['item']}" if match["item"] is not None else f"pass {match['pass']}"
    return f"{outer} {own}" if outer else own


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 3, 0)] + "..."
