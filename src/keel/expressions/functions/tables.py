"""FN functions that render lists as tables and Markdown: ``tabulate`` and ``to_markdown_*``."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_list, expect_str, type_name

TABLE_FORMATS = ("markdown", "html", "csv", "xml")


def _text(value: Any) -> str:
    """Render one cell: strings as they are, None as empty, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _rows(fname: str, rows: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Check ``rows`` is a list of objects; return the column names (first appearance) and rows."""
    items = expect_list(fname, rows, "a list of objects")
    columns: dict[str, None] = {}
    for row in items:
        if not isinstance(row, dict):
            raise TypeError(f"{fname} expects a list of objects, got an item of {type_name(row)}")
        columns.update(dict.fromkeys(str(k) for k in row))
    return list(columns), [{str(k): v for k, v in row.items()} for row in items]


def _md_cell(value: Any) -> str:
    return _text(value).replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


@fn("to_markdown_table")
def to_markdown_table(rows: list[dict[str, Any]]) -> str:
    """Render a list of objects as a Markdown table (columns in order of first appearance)."""
    columns, items = _rows("to_markdown_table", rows)
    if not columns:
        return ""
    lines = [
        "| " + " | ".join(_md_cell(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(row.get(c)) for c in columns) + " |" for row in items]
    return "\n".join(lines)


@fn("to_markdown_list")
def to_markdown_list(items: list[Any], ordered: bool = False) -> str:
    """Render a list as a Markdown bullet list (numbered when ``ordered`` is true)."""
    values = expect_list("to_markdown_list", items)
    lines = [f"{i}. " if ordered else "- " for i in range(1, len(values) + 1)]
    return "\n".join(
        mark + _text(v).replace("\n", " ") for mark, v in zip(lines, values, strict=True)
    )


@fn("to_markdown_tasks")
def to_markdown_tasks(items: list[Any]) -> str:
    """Render a list as a Markdown task list (``- [ ] item``).

    An item that is an object ``{"task": ..., "done": true}`` renders as a checked task.
    """
    lines = []
    for item in expect_list("to_markdown_tasks", items):
        done, task = False, item
        if isinstance(item, dict) and "task" in item:
            done, task = bool(item.get("done")), item["task"]
        lines.append(f"- [{'x' if done else ' '}] " + _text(task).replace("\n", " "))
    return "\n".join(lines)


def _xml_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"_{cleaned}"


@fn("tabulate")
def tabulate(rows: list[dict[str, Any]], fmt: str = "markdown") -> str:
    """Render a list of objects as a table: ``markdown`` (default), ``html``, ``csv`` or ``xml``."""
    kind = expect_str("tabulate", fmt, "a format name").lower()
    if kind not in TABLE_FORMATS:
        raise ValueError(f"tabulate format must be one of {', '.join(TABLE_FORMATS)}, got '{fmt}'")
    if kind == "markdown":
        return to_markdown_table(rows)
    columns, items = _rows("tabulate", rows)
    if kind == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(row.get(c)) for c in columns] for row in items)
        return out.getvalue()
    if kind == "html":
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(_text(row.get(c)))}</td>" for c in columns)
            + "</tr>"
            for row in items
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    records = "".join(
        "<row>"
        + "".join(
            f"<{_xml_name(c)}>{html.escape(_text(row[c]), quote=False)}</{_xml_name(c)}>"
            for c in columns
            if c in row
        )
        + "</row>"
        for row in items
    )
    return f"<table>{records}</table>"
