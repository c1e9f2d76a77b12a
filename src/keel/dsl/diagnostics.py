"""Problems found in a workflow document, with the place each one concerns.

A :class:`Problem` is what ``keel validate`` prints and what a refused commit returns: it names the
file, the line (when the source is YAML or JSON text), the action ref and the field, so a user can
go straight to the spot.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


def closest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``word`` (for "did you mean" hints), or ``None``."""
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``; did you mean 'x'?`` for the closest choice, or an empty string."""
    close = closest(word, choices)
    return f"; did you mean '{close}'?" if close else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a workflow document.

    Attributes:
        message: What is wrong and, where it helps, what would be right.
        file: The document's file name, when it came from a file.
        line: 1-based line of the offending node, when known.
        ref: The action ref the problem concerns, when it concerns one.
        field: The dotted field path inside the document or action (``args.url``).
        expression: The expression text, when the problem is in one.
        severity: ``error`` blocks a commit; ``warning`` does not.
    """

    message: str
    file: str | None = None
    line: int | None = None
    ref: str | None = None
    field: str | None = None
    expression: str | None = None
    severity: Severity = "error"

    def location(self) -> str:
        """Return ``file:line`` (or as much of it as is known)."""
        where = self.file or "<workflow>"
        return f"{where}:{self.line}" if self.line is not None else where

    def __str__(self) -> str:
        parts = [self.location()]
        if self.ref:
            parts.append(f"action '{self.ref}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        head = ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
        label = "" if self.severity == "error" else "warning: "
        return f"{head}: {label}{self.message}"

    def to_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready dict (for the API and ``--json`` output)."""
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "ref": self.ref,
            "field": self.field,
            "expression": self.expression,
            "severity": self.severity,
        }
