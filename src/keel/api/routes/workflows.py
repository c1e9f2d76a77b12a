"""``/workflows``: drafts (which may be broken), commits (which never are) and versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keel.api.commits import CommitResult, apply_document, commit_draft, webhook_path
from keel.api.deps import get_state
from keel.api.documents import document_body, document_title, read_document
from keel.api.errors import ApiError
from keel.api.schemas import MAX_STORED_INT
from keel.api.schemas.workflows import (
    ALIAS_PATTERN,
    CommitOut,
    DraftIn,
    ProblemOut,
    VersionOut,
    VersionSummary,
    WebhookOut,
    WorkflowIn,
    WorkflowOut,
    WorkflowSummary,
)
from keel.api.state import Deleted, ServiceState
from keel.store import webhooks, workflows
from keel.store.tables import WorkflowRow

router = APIRouter(prefix="/workflows", tags=["workflows"])

State = Annotated[ServiceState, Depends(get_state)]
#: ``?alias=``: the alias of a document sent as raw YAML (JSON bodies carry it themselves).
AliasQuery = Annotated[
    str | None, Query(pattern=ALIAS_PATTERN, description="The alias, when the body is raw YAML.")
]


@router.post(
    "",
    status_code=201,
    response_model=WorkflowOut,
    summary="Create a workflow (its draft may be broken)",
    openapi_extra=document_body(WorkflowIn),
)
async def create_workflow(
    request: Request,
    state: State,
    alias: AliasQuery = None,
) -> WorkflowOut:
    """Create a workflow whose draft is the document sent; nothing is validated until commit."""
    body = await read_document(request, WorkflowIn, alias=alias)
    title, description = document_title(body.yaml)
    async with state.database.session() as session:
        row = await workflows.create_workflow(
            session,
            title=title or body.alias or "untitled",
            description=description,
            yaml=body.yaml,
            alias=body.alias,
        )
        return await _out(session, row)


@router.post(
    "/apply",
    status_code=201,
    response_model=CommitOut,
    summary="Create or update a workflow by alias and commit it, in one step",
    openapi_extra=document_body(WorkflowIn),
    responses={
        200: {"description": "Unchanged: the document is the latest version; none was added."},
        422: {"description": "The document does not validate; nothing was changed."},
    },
)
async def apply_workflow(
    request: Request,
    response: Response,
    state: State,
    alias: AliasQuery = None,
) -> CommitOut:
    """Set the draft of workflow ``alias`` (created if new) and commit it, or change nothing.

    What ``keel apply`` uses: a refused document leaves the workflow as it was, draft included
    (a draft set and a commit refused in two requests would leave a broken draft behind). A
    document identical to the latest version adds none: 200 with ``unchanged: true``.
    """
    body = await read_document(request, WorkflowIn, alias=alias)
    if not body.alias:
        raise ApiError(422, "an alias is required to apply a workflow", "alias")
    result = await apply_document(state, body.yaml, body.alias)
    if result.unchanged:
        response.status_code = 200
    return _commit_out(result, request)


@router.get("", response_model=list[WorkflowSummary], summary="List workflows")
async def list_workflows(
    state: State,
    search: Annotated[str | None, Query(description="Part of a title or alias.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_STORED_INT)] = 0,
) -> list[WorkflowSummary]:
    """Return workflows, oldest first."""
    async with state.database.session() as session:
        rows = await workflows.list_workflows(session, search=search, limit=limit, offset=offset)
        return [await _summary(session, row) for row in rows]


@router.get("/{ref}", response_model=WorkflowOut, summary="Get a workflow by id or alias")
async def get_workflow(ref: str, request: Request, state: State) -> WorkflowOut:
    """Return a workflow with its draft, latest version and webhook URL."""
    async with state.database.session() as session:
        row = await workflows.get_workflow(session, ref)
        return await _out(session, row)


@router.put(
    "/{ref}/draft",
    response_model=WorkflowOut,
    summary="Replace a workflow's draft",
    openapi_extra=document_body(DraftIn),
)
async def put_draft(ref: str, request: Request, state: State) -> WorkflowOut:
    """Replace the draft (it may be broken; committed versions do not change)."""
    body = await read_document(request, DraftIn)
    async with state.database.session() as session:
        row = await workflows.update_draft(session, ref, body.yaml)
        return await _out(session, row)


@router.post(
    "/{ref}/commit",
    status_code=201,
    response_model=CommitOut,
    summary="Validate the draft and commit it as a new version",
    responses={422: {"description": "The draft does not validate: every problem, located."}},
)
async def commit(ref: str, request: Request, state: State) -> CommitOut:
    """Run every commit-time check on the draft; store it as version n+1 when it passes."""
    async with state.database.session() as session:
        result = await commit_draft(state, session, ref)
    return _commit_out(result, request)


@router.post(
    "/{ref}/webhook/rotate",
    response_model=WebhookOut,
    summary="Give the workflow's webhook a new secret URL (the old one stops working)",
)
async def rotate_webhook(ref: str, request: Request, state: State) -> WebhookOut:
    """Make a new webhook secret and return its URL, this once (only its digest is stored)."""
    async with state.database.session() as session:
        row = await workflows.get_workflow(session, ref)
        issued = await webhooks.rotate_webhook_secret(session, row.id)
    state.targets.clear()  # the old URL stops working at once (in this process; see the README)
    assert issued.secret is not None
    return WebhookOut(
        workflow_id=row.id, webhook_url=base_url(request) + webhook_path(row.id, issued.secret)
    )


@router.get(
    "/{ref}/versions", response_model=list[VersionSummary], summary="List committed versions"
)
async def list_versions(ref: str, state: State) -> list[VersionSummary]:
    """Return a workflow's committed versions, oldest first."""
    async with state.database.session() as session:
        rows = await workflows.list_versions(session, ref)
        return [
            VersionSummary(
                workflow_id=r.workflow_id, version=r.version, committed_at=r.committed_at
            )
            for r in rows
        ]


@router.get(
    "/{ref}/versions/{version}",
    response_model=VersionOut,
    summary="Get a committed version (YAML; JSON with Accept: application/json)",
    responses={200: {"content": {"text/yaml": {"schema": {"type": "string"}}}}},
)
async def get_version(
    ref: str,
    version: Annotated[int, Path(ge=1, le=MAX_STORED_INT)],
    request: Request,
    state: State,
) -> Response:
    """Return a committed version as ``text/yaml``, or as JSON when asked.

    JSON (with the validated definition) is returned for ``Accept: application/json`` or
    ``?format=json``.
    """
    async with state.database.session() as session:
        row = await workflows.get_version(session, ref, version)
    if _wants_yaml(request):
        return Response(row.yaml, media_type="text/yaml; charset=utf-8")
    out = VersionOut(
        workflow_id=row.workflow_id,
        version=row.version,
        committed_at=row.committed_at,
        yaml=row.yaml,
        definition=row.definition,
    )
    return Response(out.model_dump_json(), media_type="application/json")


@router.delete("/{ref}", status_code=204, summary="Delete a workflow and its versions")
async def delete_workflow(ref: str, state: State) -> Response:
    """Delete a workflow with its versions, webhook and schedules (run summaries stay)."""
    async with state.database.session() as session:
        row = await workflows.get_workflow(session, ref)
        for hook in state.on_delete:
            await hook(Deleted(state, session, row.id))
        await workflows.delete_workflow(session, row.id)
    return Response(status_code=204)


def _wants_yaml(request: Request) -> bool:
    wanted = request.query_params.get("format")
    if wanted in ("yaml", "json"):
        return wanted == "yaml"
    return "json" not in request.headers.get("accept", "").lower()


def base_url(request: Request) -> str:
    """Return the URL the API was reached at, without a trailing slash."""
    return str(request.base_url).rstrip("/")


async def _summary(session: AsyncSession, row: WorkflowRow) -> WorkflowSummary:
    latest = await workflows.latest_version(session, row.id)
    return WorkflowSummary(
        id=row.id,
        alias=row.alias,
        title=row.title,
        description=row.description,
        latest_version=latest.version if latest else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _out(session: AsyncSession, row: WorkflowRow) -> WorkflowOut:
    summary = await _summary(session, row)
    # No webhook_url: only the secret's digest is stored (the commit that made it showed it).
    return WorkflowOut(
        **summary.model_dump(), draft=row.draft_yaml, draft_updated_at=row.draft_updated_at
    )


def _commit_out(result: CommitResult, request: Request) -> CommitOut:
    path = result.webhook_path()
    return CommitOut(
        id=result.workflow_id,
        alias=result.alias,
        version=result.version,
        committed_at=result.committed_at,
        webhook_url=None if path is None else base_url(request) + path,
        warnings=[ProblemOut.model_validate(p.to_dict()) for p in result.warnings],
        unchanged=result.unchanged,
    )
