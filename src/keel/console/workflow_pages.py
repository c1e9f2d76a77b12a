"""Workflow pages: the list (triggers, last runs) and one workflow (DAG, versions, diff, Run)."""

from __future__ import annotations

import asyncio
import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from keel.console.api_client import ApiCallError, ApiClient
from keel.console.forms import form_fields, read_form
from keel.console.pages import PREFIX, Signed, redirect
from keel.console.session import csrf_ok
from keel.dsl.diagram import diagram
from keel.dsl.model import Workflow

router = APIRouter()

#: Runs shown beside each workflow in the list, and on a workflow's page.
LAST_RUNS = 5
RECENT_RUNS = 10
#: Workflows listed on one page (each costs a few API calls).
MAX_LISTED = 200
#: The largest document the diff view compares, in lines (beyond, it says so).
MAX_DIFF_LINES = 20_000


@router.get("/workflows")
async def workflows_page(page: Signed) -> Response:
    """List workflows with their committed version, triggers and last runs."""
    summaries = (await page.api.get("/workflows"))[:MAX_LISTED]
    schedules = await _schedules(page.api)
    rows = await asyncio.gather(*(_row(page.api, s, schedules) for s in summaries))
    return page.render("workflows.html", rows=rows, base=str(page.request.base_url))


async def _row(api: ApiClient, summary: dict[str, Any], schedules: list[dict[str, Any]]) -> Any:
    detail = await api.get(f"/workflows/{summary['id']}")
    runs = await api.get("/runs", workflow=summary["id"], limit=LAST_RUNS)
    mine = [s for s in schedules if s["workflow_id"] == summary["id"]]
    return {"workflow": detail, "schedules": mine, "runs": runs["items"]}


async def _schedules(api: ApiClient) -> list[dict[str, Any]]:
    """Return every schedule with its next fire time (asked of Temporal through the API)."""
    listed = await api.get("/schedules")

    async def detail(schedule: dict[str, Any]) -> dict[str, Any]:
        try:
            found: dict[str, Any] = await api.get(f"/schedules/{schedule['id']}")
            return found
        except ApiCallError:
            return {**schedule, "next_runs": []}  # Temporal does not know it (yet)

    return list(await asyncio.gather(*(detail(s) for s in listed)))


@router.get("/workflows/{ref}")
async def workflow_page(
    page: Signed,
    ref: str,
    diff_from: Annotated[int | None, Query(alias="from", ge=1)] = None,
    diff_to: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> Response:
    """Show a workflow: its DAG, versions (with a diff of two), Run form and recent runs."""
    return await _workflow_view(page, ref, diff_from=diff_from, diff_to=diff_to)


async def _workflow_view(
    page: Signed,
    ref: str,
    status_code: int = 200,
    *,
    diff_from: int | None = None,
    diff_to: int | None = None,
    problems: list[str] | None = None,
    form: dict[str, str] | None = None,
    new_webhook: str | None = None,
) -> Response:
    """Render a workflow's page (with the Run form's problems, or a new webhook URL, if any)."""
    workflow = await page.api.get(f"/workflows/{ref}")
    versions = await page.api.get(f"/workflows/{workflow['id']}/versions")
    version = None
    if workflow["latest_version"] is not None:
        version = await page.api.get(
            f"/workflows/{workflow['id']}/versions/{workflow['latest_version']}", format="json"
        )
    dag = None
    fields = []
    if version is not None:
        dag = diagram(Workflow.model_validate(version["definition"])).as_json()
        fields = form_fields(version["definition"])
    diff = None
    if diff_from is not None and diff_to is not None:
        diff = await _diff(page.api, workflow["id"], diff_from, diff_to)
    runs = await page.api.get("/runs", workflow=workflow["id"], limit=RECENT_RUNS)
    return page.render(
        "workflow.html",
        status_code,
        workflow=workflow,
        versions=versions,
        version=version,
        dag=dag,
        fields=fields,
        diff=diff,
        diff_from=diff_from,
        diff_to=diff_to,
        runs=runs["items"],
        problems=problems or [],
        submitted=form or {},
        new_webhook=new_webhook,
    )


@router.post("/workflows/{ref}/webhook")
async def new_webhook(page: Signed, ref: str, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Give the workflow's webhook a new secret URL and show it, this once."""
    if not csrf_ok(page.request, page.key, csrf_token):
        return page.render("error.html", 403, status=403, message="bad CSRF token")
    rotated = await page.api.post(f"/workflows/{ref}/webhook/rotate")
    return await _workflow_view(page, ref, new_webhook=rotated["webhook_url"])


async def _diff(api: ApiClient, workflow_id: str, old: int, new: int) -> list[tuple[str, str]]:
    """Return the unified diff of two versions' YAML as (kind, line) pairs for display."""
    before = await api.get(f"/workflows/{workflow_id}/versions/{old}", format="json")
    after = await api.get(f"/workflows/{workflow_id}/versions/{new}", format="json")
    a, b = before["yaml"].splitlines(), after["yaml"].splitlines()
    if len(a) + len(b) > MAX_DIFF_LINES:
        return [
            ("note", f"the versions are too long to compare here (over {MAX_DIFF_LINES} lines)")
        ]
    lines = difflib.unified_diff(a, b, f"version {old}", f"version {new}", lineterm="")
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [
        ("hunk" if line[:3] in ("+++", "---") else kinds.get(line[:1], "same"), line)
        for line in lines
    ] or [("note", "the two versions are the same")]


@router.post("/workflows/{ref}/run")
async def run_workflow(page: Signed, ref: str) -> Response:
    """Start a run from the Run form and open its page (or show what is wrong with the form)."""
    form = {k: v for k, v in (await page.request.form()).items() if isinstance(v, str)}
    if not csrf_ok(page.request, page.key, form.get("csrf_token")):
        return page.render("error.html", 403, status=403, message="bad CSRF token")
    workflow = await page.api.get(f"/workflows/{ref}")
    version = await page.api.get(
        f"/workflows/{workflow['id']}/versions/{workflow['latest_version']}", format="json"
    )
    inputs, problems = read_form(form_fields(version["definition"]), form)
    if not problems:
        try:
            started = await page.api.post(
                f"/workflows/{workflow['id']}/runs",
                {"inputs": inputs, "version": version["version"]},
            )
        except ApiCallError as exc:
            if exc.status != 422:
                raise
            problems = [exc.message]
        else:
            return redirect(f"{PREFIX}/runs/{started['execution_id']}", page.request)
    return await _workflow_view(page, workflow["id"], 422, problems=problems, form=form)
