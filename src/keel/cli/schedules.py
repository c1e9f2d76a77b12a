"""``keel schedules list|show|pause|resume|trigger|backfill``: schedules through the API.

Schedules come from ``schedule`` triggers of committed workflows; these commands act on them. A
schedule is named by Keel's id (``sch_...``) or its Temporal id (``sched-<workflow>-<ref>``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from keel.cli.client import ApiClient, JsonOption, KeyOption, UrlOption
from keel.cli.tables import WideOption, cell, show_table, table, workflow_aliases

ScheduleId = Annotated[str, typer.Argument(help="The schedule's id (sch_... or sched-...).")]


def list_schedules(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only schedules of this workflow.")
    ] = None,
    wide: WideOption = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List schedules (workflows by alias; --wide adds their ids and Temporal's)."""
    params = {"workflow": workflow} if workflow else {}
    with ApiClient(url, api_key) as client:
        rows = client.json("GET", "/schedules", params=params)
        aliases = workflow_aliases(client) if rows and not as_json else {}
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    columns = ["schedule", "workflow", "trigger", "when", "v", "state"]
    if wide:
        columns[2:2] = ["workflow id", "temporal id"]
    shown = table(*columns)
    for row in rows:
        cells = [
            escape(row["id"]),
            escape(aliases.get(row["workflow_id"], row["workflow_id"])),
            escape(row["ref"]),
            escape(_when(row["args"])),
            cell(row["version"]),
            "[yellow]paused[/]" if row["paused"] else "[green]active[/]",
        ]
        if wide:
            cells[2:2] = [escape(row["workflow_id"]), escape(cell(row.get("temporal_id")))]
        shown.add_row(*cells)
    if rows:
        show_table(shown, "workflow", "when", wide=wide)
    else:
        typer.echo("no schedules")


def show(
    schedule_id: ScheduleId,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show a schedule: its timing, state, next due times and recent runs."""
    with ApiClient(url, api_key) as client:
        detail = client.json("GET", f"/schedules/{schedule_id}")
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
        return
    out = Console(highlight=False, soft_wrap=True)
    state = "paused" if detail["paused"] else "active"
    out.print(
        f"[bold]{escape(detail['id'])}[/] ({escape(detail['temporal_id'])}) · "
        f"workflow {escape(detail['workflow_id'])} v{detail['version']} · "
        f"{escape(_when(detail['args']))} · {state}"
        + (f" ({escape(detail['note'])})" if detail.get("note") else "")
    )
    out.print(f"runs started: {detail['runs_started']}")
    for due in detail["next_runs"][:5]:
        out.print(f"  next: {_time(due)}")
    for run in detail["recent_runs"]:
        out.print(f"  ran: {_time(run['scheduled_at'])}  {escape(run['execution_id'])}")


def pause(
    schedule_id: ScheduleId,
    note: Annotated[str | None, typer.Option("--note", help="Why it is paused.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Pause a schedule (no run starts until it is resumed)."""
    _post(f"/schedules/{schedule_id}/pause", {"note": note}, as_json, url, api_key)


def resume(
    schedule_id: ScheduleId,
    note: Annotated[str | None, typer.Option("--note", help="Why it is resumed.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Resume a paused schedule."""
    _post(f"/schedules/{schedule_id}/resume", {"note": note}, as_json, url, api_key)


def trigger(
    schedule_id: ScheduleId,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Start a run of a schedule now (with its inputs)."""
    _post(f"/schedules/{schedule_id}/trigger", {}, as_json, url, api_key)


def backfill(
    schedule_id: ScheduleId,
    start: Annotated[
        datetime, typer.Option("--start", help="Start of the range (ISO time, UTC if no zone).")
    ],
    end: Annotated[datetime, typer.Option("--end", help="End of the range (exclusive).")],
    overlap: Annotated[
        str | None,
        typer.Option("--overlap", help="skip, buffer_one, buffer_all (default), allow_all..."),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Start a run for every time the schedule was due in [START, END)."""
    body: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    if overlap:
        body["overlap"] = overlap
    _post(f"/schedules/{schedule_id}/backfill", body, as_json, url, api_key)


def _post(
    path: str, body: dict[str, Any], as_json: bool, url: str | None, api_key: str | None
) -> None:
    with ApiClient(url, api_key) as client:
        answer = client.json("POST", path, json={k: v for k, v in body.items() if v is not None})
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    elif "status" in answer:
        typer.echo(f"{answer['id']}: {answer['status']}")
    else:
        typer.echo(f"{answer['id']}: {'paused' if answer['paused'] else 'active'}")


def _when(args: dict[str, Any]) -> str:
    if args.get("cron"):
        cron = args["cron"]
        text = ", ".join(cron) if isinstance(cron, list) else str(cron)
    else:
        text = f"every {args.get('every')}"
    zone = args.get("timezone")
    return f"{text} ({zone})" if zone else text


def _time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else ""
