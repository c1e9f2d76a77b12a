"""Child workflows resolved from the store: the service's :class:`WorkflowCatalog`.

``core.workflow.execute`` names a workflow by alias or id (and optionally a version); in the
service the ``keel.resolve_workflow`` activity looks it up here, among committed versions only: a
draft is never run as a child.
"""

from __future__ import annotations

from keel.errors import NotFoundError
from keel.orchestration.payloads import ResolvedWorkflow, ResolveRequest
from keel.store import workflows
from keel.store.database import Database


class StoreCatalog:
    """Resolves child workflows to committed versions in Keel's store."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def resolve(self, request: ResolveRequest) -> ResolvedWorkflow:
        """Return the requested committed version (the latest when no version is given)."""
        ref = request.workflow_id or request.alias or ""
        async with self.database.session() as session:
            try:
                if request.version is not None:
                    row = await workflows.get_version(session, ref, request.version)
                else:
                    latest = await workflows.latest_version(session, ref)
                    if latest is None:
                        return ResolvedWorkflow(
                            found=False, message=f"workflow '{ref}' has no committed version"
                        )
                    row = latest
            except NotFoundError as exc:
                return ResolvedWorkflow(found=False, message=str(exc))
            return ResolvedWorkflow(
                found=True,
                workflow_id=row.workflow_id,
                version=row.version,
                definition=dict(row.definition),
            )
