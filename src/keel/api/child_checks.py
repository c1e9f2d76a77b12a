"""Commit-time checks of ``core.workflow.execute``: the called workflows exist, no wait-cycles.

These need the store (which workflows are committed), so they run as a commit hook rather than in
the pure validator:

- a literal ``workflow_id`` must name a workflow with a committed version (an error);
- a literal ``workflow_alias`` that names nothing yet is a warning: it is resolved at run time,
  so the child may be committed later; an alias or id given by an expression is a warning too;
- a workflow may not call itself through a chain of *waiting* calls (each run would wait on a
  new run of itself, without end): such a commit is refused, naming the chain. A ``detach`` call
  ends a chain, since the parent does not wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keel import expressions
from keel.api.state import Committed, ServiceState
from keel.dsl.diagnostics import Problem
from keel.dsl.model import Workflow
from keel.errors import DefinitionError
from keel.orchestration.children import CHILD_ACTION
from keel.store import workflows

#: How deep the wait-cycle search follows calls (deeper chains are not followed).
MAX_DEPTH = 32


def install_commit_checks(state: ServiceState) -> None:
    """Register the child-workflow checks on ``state`` (once)."""
    if check_children not in state.on_commit:
        state.on_commit.insert(0, check_children)


async def check_children(committed: Committed) -> None:
    """Refuse a commit whose child calls cannot work; add warnings for what is unknown yet."""
    errors: list[Problem] = []
    for ref, args in _calls(committed.workflow):
        target = _literal(args.get("workflow_id")) or _literal(args.get("workflow_alias"))
        field = "args.workflow_id" if args.get("workflow_id") else "args.workflow_alias"
        if target is None:
            committed.warnings.append(
                Problem(
                    "the child workflow is chosen by an expression; it is resolved at run time",
                    ref=ref,
                    field=field,
                    severity="warning",
                )
            )
            continue
        if await workflows.find_workflow(committed.session, target) is None and target not in (
            committed.workflow_id,
            committed.alias,
        ):
            problem = Problem(
                f"no workflow '{target}' exists yet; it is resolved when the action runs",
                ref=ref,
                field=field,
                severity="warning" if field == "args.workflow_alias" else "error",
            )
            (errors if problem.severity == "error" else committed.warnings).append(problem)
    cycle = await _wait_cycle(committed)
    if cycle:
        errors.append(
            Problem(
                "the workflow calls itself through a chain of waiting child runs ("
                + " -> ".join(cycle)
                + "); every run would wait on another: use wait_strategy: detach somewhere "
                "in the chain",
                ref=None,
                field="actions",
            )
        )
    if errors:
        raise DefinitionError(errors)


def _calls(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any]]]:
    for stmt in workflow.actions:
        if stmt.action == CHILD_ACTION:
            yield stmt.ref, stmt.args


def _literal(value: Any) -> str | None:
    if isinstance(value, str) and value and not expressions.has_expression(value):
        return value
    return None


def _waited_targets(workflow: Workflow) -> list[str]:
    return [
        target
        for _, args in _calls(workflow)
        if args.get("wait_strategy", "wait") != "detach"
        and (target := _literal(args.get("workflow_id")) or _literal(args.get("workflow_alias")))
    ]


async def _wait_cycle(committed: Committed) -> list[str] | None:
    """Return a chain of waiting calls from the committed workflow back to itself, if any."""
    me = {committed.workflow_id, *([committed.alias] if committed.alias else [])}
    name = committed.alias or committed.workflow_id
    stack: list[tuple[list[str], Workflow]] = [([name], committed.workflow)]
    seen: set[str] = set()
    while stack:
        path, workflow = stack.pop()
        if len(path) > MAX_DEPTH:
            continue
        for target in _waited_targets(workflow):
            if target in me:
                return [*path, target]
            if target in seen:
                continue
            seen.add(target)
            row = await workflows.find_workflow(committed.session, target)
            if row is None:
                continue
            latest = await workflows.latest_version(committed.session, row.id)
            if latest is not None:
                stack.append(([*path, target], Workflow.model_validate(latest.definition)))
    return None
