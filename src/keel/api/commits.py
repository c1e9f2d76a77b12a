"""Committing a workflow's draft: validate it fully, store an immutable version, apply triggers.

Shared by ``POST /workflows/{id}/commit`` and by ``keel up FILE...`` (which applies files without
going through HTTP). A draft that does not validate is refused with *every* problem and its
location; a commit that passes stores the document and its validated definition as version
``n + 1``, makes sure the workflow has a webhook, and runs the app's commit hooks in the same
transaction (so a trigger that cannot be applied refuses the commit as a whole).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keel.api.documents import document_title
from keel.api.errors import ApiError
from keel.api.state import Committed, ServiceState
from keel.dsl.diagnostics import Problem
from keel.dsl.model import Workflow
from keel.dsl.validation import ValidationResult, validate_text
from keel.errors import DefinitionError
from keel.store import webhooks, workflows


@dataclass(frozen=True)
class CommitResult:
    """What a commit stored.

    Attributes:
        workflow_id: The workflow's id.
        alias: Its alias, if any.
        version: The new version number.
        committed_at: When it was committed.
        webhook_secret: The secret of the workflow's webhook URL when this commit created the
            webhook (the only time it is known: the store keeps its digest), else ``None``.
        warnings: Problems that did not block the commit.
        unchanged: The document was already the latest version: nothing was committed, and
            ``version`` is that latest version.
    """

    workflow_id: str
    alias: str | None
    version: int
    committed_at: datetime
    webhook_secret: str | None = field(default=None, repr=False)
    warnings: list[Problem] = field(default_factory=list)
    unchanged: bool = False

    def webhook_path(self) -> str | None:
        """Return the new webhook's path (``/webhooks/{workflow_id}/{secret}``), or ``None``."""
        if self.webhook_secret is None:
            return None
        return webhook_path(self.workflow_id, self.webhook_secret)


def webhook_path(workflow_id: str, secret: str) -> str:
    """Return the path of a workflow's webhook."""
    return f"/webhooks/{workflow_id}/{secret}"


#: What the CLI says instead of a webhook URL that already existed (only its digest is kept).
WEBHOOK_UNCHANGED = (
    "unchanged (its URL was shown when it was made; "
    "POST /workflows/{id}/webhook/rotate makes a new one)"
)


def webhook_line(base_url: str, result: CommitResult) -> str:
    """Return what to print for a commit's webhook: its new URL, or that it is unchanged."""
    path = result.webhook_path()
    return base_url + path if path is not None else WEBHOOK_UNCHANGED.format(id=result.workflow_id)


def refusal(result: ValidationResult, what: str = "the draft") -> ApiError:
    """Return the 422 error of a document that does not validate, listing every problem."""
    count = len(result.errors)
    return ApiError(
        422,
        f"{what} has {count} error(s); nothing was committed",
        "yaml",
        problems=[p.to_dict() for p in result.problems],
    )


def validated(state: ServiceState, text: str, what: str = "the draft") -> Workflow:
    """Return the workflow of ``text`` if it passes every commit-time check.

    Raises:
        ApiError: 422 with every problem when it does not.
    """
    result = validate_text(text, state.registry)
    if not result.ok or result.workflow is None:
        raise refusal(result, what)
    return result.workflow


async def commit_draft(state: ServiceState, session: AsyncSession, ref: str) -> CommitResult:
    """Validate the draft of workflow ``ref`` and commit it as a new version.

    Raises:
        NotFoundError: No workflow has that id or alias.
        ApiError: 422 with every problem when the draft does not validate.
    """
    row = await workflows.get_workflow(session, ref)
    text = row.draft_yaml
    result = validate_text(text, state.registry)
    if not result.ok or result.workflow is None:
        raise refusal(result)
    workflow = result.workflow
    version = await workflows.commit_version(
        session,
        row.id,
        yaml=text,
        definition=workflow.model_dump(mode="json", exclude_none=True),
    )
    title, description = document_title(text)
    await workflows.update_workflow(
        session,
        row.id,
        title=workflow.title or title or row.title,
        description=workflow.description or description,
    )
    webhook = await webhooks.ensure_webhook(session, row.id)  # its secret: only when new
    committed = Committed(state, session, row.id, row.alias, version.version, workflow)
    for hook in state.on_commit:
        await hook(committed)
    return CommitResult(
        workflow_id=row.id,
        alias=row.alias,
        version=version.version,
        committed_at=version.committed_at,
        webhook_secret=webhook.secret,
        warnings=[p for p in result.problems if p.severity != "error"] + committed.warnings,
    )


async def apply_document(
    state: ServiceState, text: str, alias: str, file: str | None = None
) -> CommitResult:
    """Create or update the workflow with ``alias`` from ``text`` and commit it (``keel up``).

    The document is validated first, so a broken file changes nothing (not even the draft). A
    document identical to the latest committed version adds no version: the result says
    ``unchanged`` and carries that version (the draft is set to the document, as always).

    Raises:
        DefinitionError: The document does not validate; it carries every problem.
    """
    result = validate_text(text, state.registry, file=file)
    if not result.ok:
        raise DefinitionError(result.errors)
    async with state.database.session() as session:
        row = await workflows.find_workflow(session, alias)
        if row is None:
            title, description = document_title(text)
            row = await workflows.create_workflow(
                session, title=title or alias, description=description, yaml=text, alias=alias
            )
        else:
            if row.draft_yaml != text:
                await workflows.update_draft(session, row.id, text)
            same = await workflows.same_as_latest(session, row.id, text)
            if same is not None:
                webhook = await webhooks.ensure_webhook(session, row.id)
                return CommitResult(
                    workflow_id=row.id,
                    alias=row.alias,
                    version=same.version,
                    committed_at=same.committed_at,
                    webhook_secret=webhook.secret,
                    warnings=[p for p in result.problems if p.severity != "error"],
                    unchanged=True,
                )
        return await commit_draft(state, session, row.id)
