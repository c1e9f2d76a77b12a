"""Where child runs find the workflows they call: the ``keel.resolve_workflow`` activity.

A child run (``core.workflow.execute``) names a committed workflow by alias or id. The workflow
code cannot read the store or files, so this activity resolves the name to a validated
definition. Two catalogs implement :class:`WorkflowCatalog`: the service's store (committed
versions), and :class:`DirectoryCatalog` for ``keel run --workflows DIR`` (files whose stem is the
alias, validated as a commit would).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from temporalio import activity

from keel.actions.registry import default_registry
from keel.dsl.validation import validate_file
from keel.errors import ConfigError
from keel.orchestration.payloads import RESOLVE_WORKFLOW, ResolvedWorkflow, ResolveRequest


class WorkflowCatalog(Protocol):
    """Resolves a child workflow reference to a committed, validated definition."""

    async def resolve(self, request: ResolveRequest) -> ResolvedWorkflow:
        """Return the workflow the request names (``found=False`` with a reason if none)."""
        ...


class NoCatalog:
    """A catalog with no workflows: child runs fail with a message saying how to provide one."""

    async def resolve(self, request: ResolveRequest) -> ResolvedWorkflow:
        """Return not-found, explaining where child workflows come from."""
        name = request.alias or request.workflow_id
        return ResolvedWorkflow(
            found=False,
            message=f"cannot resolve child workflow '{name}': no workflow catalog (run it under "
            "`keel up`, or pass `keel run --workflows DIR`)",
        )


class DirectoryCatalog:
    """Workflow files found in folders (or given one by one), keyed by file stem."""

    def __init__(self, paths: list[Path]) -> None:
        self._files: dict[str, Path] = {}
        for path in paths:
            if path.is_dir():
                for file in sorted(
                    [*path.glob("*.yml"), *path.glob("*.yaml"), *path.glob("*.json")]
                ):
                    self._files.setdefault(file.stem, file)
            elif path.is_file():
                self._files[path.stem] = path
            else:
                raise ConfigError(f"--workflows: {path} is neither a file nor a folder")

    async def resolve(self, request: ResolveRequest) -> ResolvedWorkflow:
        """Load, validate and return the file named by the alias (or id)."""
        name = request.alias or request.workflow_id or ""
        path = self._files.get(name)
        if path is None:
            known = ", ".join(sorted(self._files)) or "none"
            return ResolvedWorkflow(
                found=False, message=f"no workflow '{name}' in the catalog (known: {known})"
            )
        result = validate_file(path, default_registry())
        if not result.ok or result.workflow is None:
            first = result.errors[0] if result.errors else "it does not load"
            return ResolvedWorkflow(found=False, message=f"workflow '{name}' is not valid: {first}")
        return ResolvedWorkflow(
            found=True,
            workflow_id=name,
            version=request.version,
            definition=result.workflow.model_dump(mode="json", exclude_none=True),
        )


class CatalogActivities:
    """Holds the catalog for the lifetime of a worker."""

    def __init__(self, catalog: WorkflowCatalog | None = None) -> None:
        self.catalog: WorkflowCatalog = catalog or NoCatalog()

    @activity.defn(name=RESOLVE_WORKFLOW)
    async def resolve_workflow(self, request: ResolveRequest) -> ResolvedWorkflow:
        """Resolve a child workflow reference."""
        return await self.catalog.resolve(request)
