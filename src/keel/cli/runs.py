"""``keel runs list|show|events|cancel|terminate|rerun``: runs through the API (tables or JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from keel.cli.client import ApiCallError, ApiClient, JsonOption, KeyOption, UrlOption
from keel.cli.regions import region_lines, regions
from keel.cli.tables import (
    WideOption,
    cell,
    full_time,
    id_width,
    short_time,
    show_table,
    table,
    took,
    workflow_aliases,
)
from keel.errors import KeelError

_STYLE = {
    "queued": "blue",  # accepted, waiting for its start in Temporal
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "terminated": "yellow",
    "timed_out": "red",
    "skipped": "yellow",
    "pending": "dim",
}

RunId = Annotated[
    str,
    typer.Argument(
        help="The run's id, or a unique prefix of it (as `keel runs list` shows).", metavar="RUN"
    ),
]

#: How many of the newest runs a run-id prefix is looked up in.
PREFIX_SEARCH = 500


def list_runs(
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", "-w", help="Only runs of this workflow (alias or id)."),
    ] = None,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Only this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs to show.")] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Show the next page.")] = None,
    wide: WideOption = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List runs, newest first (run ids as unique prefixes; --wide shows them whole)."""
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("workflow", workflow), ("status", status), ("cursor", cursor)):
        if value is not None:
            params[name] = value
    with ApiClient(url, api_key) as client:
        page = client.json("GET", "/runs", params=params)
        aliases = workflow_aliases(client) if page["items"] and not as_json else {}
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    out = Console(highlight=False)
    items = page["items"]
    if wide:
        shown = table(
            "run", "workflow", "workflow id", "v", "trigger", "status", "started", "ended"
        )
    else:
        shown = table("run", "workflow", "status", "started", "took")
    width = id_width([run["execution_id"] for run in items])
    for run in items:
        alias = aliases.get(run["workflow_id"], run["workflow_id"]) if run["workflow_id"] else None
        if wide:
            shown.add_row(
                escape(run["execution_id"]),
                escape(cell(alias)),
                escape(cell(run["workflow_id"])),
                cell(run["version"]),
                run["trigger_type"],
                _status(run["status"]),
                full_time(run["started_at"]),
                full_time(run["ended_at"]),
            )
        else:
            shown.add_row(
                escape(run["execution_id"][:width]),
                escape(cell(alias)),
                _status(run["status"]),
                short_time(run["started_at"]),
                took(run["started_at"], run["ended_at"]),
            )
    if items:
        show_table(shown, "workflow", wide=wide)
    else:
        out.print("no runs")
    if page["next_cursor"]:
        out.print(f"more: keel runs list --cursor {page['next_cursor']}")


def show(
    run_id: RunId, as_json: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Show a run: its status and each action's attempts, timing, result and error."""
    with ApiClient(url, api_key) as client:
        detail = by_run_id(client, run_id, lambda full: client.json("GET", f"/runs/{full}"))
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]{escape(detail['title'])}[/] {escape(detail['execution_id'])}")
    version = detail["version"] or "draft"
    out.print(
        f"workflow {escape(detail['workflow_id'] or '-')} version {version} · "
        f"{_status(detail['status'])} · started {_time(detail['started_at'])}"
        + (f" · {detail['duration_ms']:.0f} ms" if detail["duration_ms"] is not None else "")
    )
    if detail["error"]:
        out.print(f"[red]error: {escape(detail['error'])}[/]")
    if detail.get("parent"):
        action = detail.get("parent_action") or "?"
        out.print(f"parent: {escape(detail['parent'])} (action {escape(action)})")
    table = Table(header_style="bold", box=None)
    for column in ("action", "status", "attempts", "duration", "result / error"):
        table.add_column(column)
    for action in detail["actions"]:
        shown = action["error"] or json.dumps(action["result"], default=str)
        duration = f"{action['duration_ms']:.0f} ms" if action["duration_ms"] is not None else ""
        table.add_row(
            escape(action["ref"]),
            _status(action["status"]),
            str(action["attempts"] or ""),
            duration,
            escape(shown[:200]),
        )
    out.print(table)
    found = regions(detail["actions"])
    if found:
        out.print("[bold]regions[/]")
        for line in region_lines(found, out.width):
            out.print(escape(line))
    if detail.get("child_runs"):
        children = Table(title="child runs", header_style="bold", box=None, title_justify="left")
        for column in ("run", "action", "status"):
            children.add_column(column)
        for child in detail["child_runs"]:
            children.add_row(
                escape(child["execution_id"]), escape(child["action"]), _status(child["status"])
            )
        out.print(children)


def events(
    run_id: RunId, as_json: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Show a run's event timeline."""
    with ApiClient(url, api_key) as client:
        timeline = by_run_id(
            client, run_id, lambda full: client.json("GET", f"/runs/{full}/events")
        )
    if as_json:
        typer.echo(json.dumps(timeline, indent=2))
        return
    table = Table(header_style="bold", box=None)
    for column in ("time", "event", "detail"):
        table.add_column(column)
    for event in timeline:
        table.add_row(_time(event["time"]), event["kind"], escape(event["detail"]))
    Console(highlight=False).print(table)


def cancel(
    run_id: RunId, as_json: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Ask a running run to cancel."""
    _act(run_id, "cancel", as_json, url, api_key)


def terminate(
    run_id: RunId, as_json: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Stop a running run at once."""
    _act(run_id, "terminate", as_json, url, api_key)


def rerun(
    run_id: RunId, as_json: JsonOption = False, url: UrlOption = None, api_key: KeyOption = None
) -> None:
    """Re-run a failed run from its failed action (a new run; the old one is unchanged)."""
    _act(run_id, "rerun", as_json, url, api_key)


def _act(run_id: str, verb: str, as_json: bool, url: str | None, api_key: str | None) -> None:
    with ApiClient(url, api_key) as client:
        answer = by_run_id(client, run_id, lambda full: client.json("POST", f"/runs/{full}/{verb}"))
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    elif answer.get("rerun_of"):
        typer.echo(f"started {answer['execution_id']} (re-run of {answer['rerun_of']})")
    else:
        typer.echo(f"{answer['execution_id']}: {answer['status']}")


def by_run_id(client: ApiClient, given: str, call: Callable[[str], Any]) -> Any:
    """Return ``call(id)`` for the run ``given`` names: its whole id, or a unique id prefix.

    The whole id is tried first (one request when it is whole); on a 404, ``given`` is looked
    up as a prefix among the newest :data:`PREFIX_SEARCH` runs.

    Raises:
        ApiCallError: No run has that id or prefix (the API's 404).
        KeelError: The prefix fits several runs; the message lists some of them.
    """
    try:
        return call(given)
    except ApiCallError as exc:
        if exc.status != 404:
            raise
        page = client.json("GET", "/runs", params={"limit": PREFIX_SEARCH})
        found = [r["execution_id"] for r in page["items"] if r["execution_id"].startswith(given)]
        if not found:
            raise
        if len(found) > 1:
            listed = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise KeelError(
                f"'{given}' is the start of {len(found)} run ids ({listed}); give more of it"
            ) from None
        return call(found[0])


def _status(status: str) -> str:
    style = _STYLE.get(status, "")
    return f"[{style}]{status}[/]" if style else status


def _time(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("T", " ")[:19]
