"""Run pages: the list (filters, paging, live refresh) and one run (live DAG, timeline, panels).

A running run's page polls :func:`run_live` (htmx, every second); the fragment carries the
actions' statuses for the DAG, and stops polling once the run has ended.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from keel.console.api_client import ApiCallError
from keel.console.pages import PREFIX, Signed, redirect
from keel.console.session import csrf_ok

router = APIRouter()

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "terminated", "timed_out")
TRIGGERS = ("api", "webhook", "schedule", "cli", "child", "error_handler")
#: The time-range filter's choices: label -> how far back.
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
PAGE_SIZE = 25
ITEMS_PAGE = 50
#: How many streams (items or passes of a region) an action's panel lists; failed ones first.
STREAMS_SHOWN = 50
Verb = Literal["cancel", "terminate", "rerun", "rerun-failed"]


@router.get("/runs")
async def runs_page(
    page: Signed,
    workflow: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    trigger: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(max_length=4)] = "",
    after: Annotated[str, Query(max_length=40)] = "",
    before: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    fragment: bool = False,
) -> Response:
    """List runs newest first, filtered by workflow, status, trigger and time range."""
    problems: list[str] = []
    started_after = _utc(after, "from", problems)
    started_before = _utc(before, "to", problems)
    if since in RANGES:
        started_after = (datetime.now(UTC) - RANGES[since]).isoformat()
    listed = await page.api.get(
        "/runs",
        workflow=workflow or None,
        status=status if status in RUN_STATUSES else None,
        trigger=trigger if trigger in TRIGGERS else None,
        started_after=started_after,
        started_before=started_before,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )
    workflows = await page.api.get("/workflows")
    names = {w["id"]: w["alias"] or w["title"] for w in workflows}
    filters = {
        "workflow": workflow,
        "status": status,
        "trigger": trigger,
        "since": since,
        "after": after,
        "before": before,
    }
    return page.render(
        "runs_table.html" if fragment else "runs.html",
        runs=listed["items"],
        next_cursor=listed["next_cursor"],
        cursor=cursor,
        names=names,
        workflows=workflows,
        filters=filters,
        statuses=RUN_STATUSES,
        triggers=TRIGGERS,
        ranges=list(RANGES),
        problems=problems,
    )


@router.get("/runs/{execution_id}")
async def run_page(page: Signed, execution_id: str) -> Response:
    """Show one run: its DAG coloured by status, timeline, action panels, items and lineage."""
    run = await page.api.get(f"/runs/{execution_id}")
    return page.render("run.html", run=run, states=_states(run), streams=_streams(run))


@router.get("/runs/{execution_id}/live")
async def run_live(page: Signed, execution_id: str) -> Response:
    """The part of the run page that changes while the run runs (polled by htmx)."""
    run = await page.api.get(f"/runs/{execution_id}")
    return page.render(
        "run_live.html", run=run, states=_states(run), streams=_streams(run), fragment=True
    )


@router.get("/runs/{execution_id}/items/{ref}")
async def run_items(
    page: Signed,
    execution_id: str,
    ref: str,
    status: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """One page of a for_each action's items (optionally only the failed ones)."""
    items = await page.api.get(
        f"/runs/{execution_id}/actions/{ref}/items",
        status=status or None,
        offset=offset,
        limit=ITEMS_PAGE,
    )
    return page.render(
        "items.html", run_id=execution_id, ref=ref, page=items, status=status, offset=offset
    )


@router.post("/runs/{execution_id}/{verb}")
async def run_action(
    page: Signed, execution_id: str, verb: Verb, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Cancel, terminate or re-run a run (a whole new run, or from its failed action)."""
    if not csrf_ok(page.request, page.key, csrf_token):
        return page.render("error.html", 403, status=403, message="bad CSRF token")
    target = execution_id
    try:
        if verb in ("cancel", "terminate"):
            await page.api.post(f"/runs/{execution_id}/{verb}")
        elif verb == "rerun-failed":
            target = (await page.api.post(f"/runs/{execution_id}/rerun"))["execution_id"]
        else:
            run = await page.api.get(f"/runs/{execution_id}")
            if not run["workflow_id"]:
                raise ApiCallError(409, "this run has no stored workflow to run again")
            body = {"inputs": run["input"], "version": run["version"]}
            started = await page.api.post(f"/workflows/{run['workflow_id']}/runs", body)
            target = started["execution_id"]
    except ApiCallError as exc:
        if exc.status != 409:
            raise
        return page.render("error.html", 409, status=409, message=exc.message)
    return redirect(f"{PREFIX}/runs/{target}", page.request)


def _utc(text: str, field: str, problems: list[str]) -> str | None:
    """Return a time from the filter form (UTC when it has no zone) as ISO, or note a problem."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{field}: {text!r} is not a time (use YYYY-MM-DD HH:MM)")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _states(run: dict[str, Any]) -> dict[str, Any]:
    """Return what the DAG needs to colour itself: each action's status and attempts."""
    return {
        "status": run["status"],
        "actions": {
            a["ref"]: {"status": _shown(a["status"], run["status"]), "attempts": a["attempts"]}
            for a in run["actions"]
        },
    }


def _streams(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return, for each action inside a scatter or loop region, what its panel lists.

    Each entry: ``counts`` (streams by status, failed first), ``rows`` (at most
    :data:`STREAMS_SHOWN` streams: the failed ones first, then in the run's order) and ``hidden``
    (how many more there are; ``GET /runs/{id}`` has them all).
    """
    views: dict[str, dict[str, Any]] = {}
    for action in run["actions"]:
        streams = action.get("streams") or []
        if not streams:
            continue
        counts: dict[str, int] = {}
        for stream in streams:
            counts[stream["status"]] = counts.get(stream["status"], 0) + 1
        failed = [s for s in streams if s["status"] == "failed"]
        rest = [s for s in streams if s["status"] != "failed"]
        rows = (failed + rest)[:STREAMS_SHOWN]
        ordered = sorted(counts.items(), key=lambda pair: (pair[0] != "failed", pair[0]))
        views[action["ref"]] = {
            "counts": dict(ordered),
            "rows": rows,
            "hidden": len(streams) - len(rows),
        }
    return views


def _shown(status: str, run_status: str) -> str:
    """Return the status to show: an action still pending in an ended run never ran."""
    if status in ("pending", "unknown"):
        if run_status in ("cancelled", "terminated", "timed_out"):
            return "cancelled"
        if run_status != "running":  # it was never reached: not taken, or the run stopped
            return "skipped" if run_status == "succeeded" else "cancelled"
        return "queued"
    if status == "running" and run_status in ("cancelled", "terminated", "timed_out"):
        return "cancelled"
    return status
