"""Applying a workflow's triggers when it is committed, and removing them when it is deleted.

:func:`apply_triggers` is a commit hook (see :class:`keel.api.state.Committed`): it runs inside
the commit's transaction, after the document validated. It first reads *every* trigger (so a
refusal lists every problem, each with its line, trigger and argument), then:

- ``webhook``: stores the validated settings on the workflow's webhook (the commit made sure it
  has one, with a random secret). A workflow has one webhook URL, so at most one ``webhook``
  trigger; without one the webhook keeps default settings.
- ``schedule``: creates or updates the Temporal Schedule of each trigger and its store row, and
  deletes the schedules whose trigger is gone.

Unknown ``args`` are warnings, returned in the commit's response. A commit re-applies the
document's triggers, so changes made through ``PATCH /schedules/{id}`` last until the next commit;
a pause made through the API survives a commit whose trigger does not say ``paused``/``status``.

Temporal is not part of the database transaction: if the commit fails after a schedule was
written, the next commit of the workflow brings Temporal back in line (writes are upserts).

:func:`remove_triggers` is a delete hook: it deletes the workflow's Temporal Schedules (the rows go
with the workflow). :func:`install_trigger_hooks` registers both on a service state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic_core import to_jsonable_python

from keel.api.errors import ApiError
from keel.api.scheduling import (
    ScheduleTrigger,
    delete_temporal,
    keeps_pause,
    read_trigger,
    spec_of,
    write_schedule,
)
from keel.api.state import Committed, Deleted, ServiceState
from keel.dsl.diagnostics import Problem
from keel.dsl.model import Trigger
from keel.dsl.source import SourceMap, map_source
from keel.errors import TriggerError
from keel.store import schedules, webhooks, workflows
from keel.triggers.schedule import schedule_id_for
from keel.triggers.webhook import load_webhook_settings

log = logging.getLogger(__name__)


def install_trigger_hooks(state: ServiceState) -> None:
    """Register the trigger hooks on ``state`` (once; calling again changes nothing)."""
    if apply_triggers not in state.on_commit:
        state.on_commit.append(apply_triggers)
    if remove_triggers not in state.on_delete:
        state.on_delete.append(remove_triggers)


async def apply_triggers(committed: Committed) -> None:
    """Apply the committed version's webhook and schedule triggers (a commit hook).

    Raises:
        ApiError: 422 listing every trigger problem (the commit is refused, nothing is stored).
    """
    triggers = committed.workflow.triggers
    errors: list[tuple[int, str, str]] = []  # (trigger index, trigger ref, problem)
    warnings: list[tuple[int, str, str]] = []
    webhook_settings: dict[str, Any] = {}
    hooks = [(n, t) for n, t in enumerate(triggers) if t.type == "webhook"]
    for n, trigger in hooks[1:]:
        errors.append(
            (n, trigger.ref, f"a workflow has one webhook; '{hooks[0][1].ref}' is already one")
        )
    if hooks:
        n, trigger = hooks[0]
        try:
            settings, found = load_webhook_settings(to_jsonable_python(trigger.args), trigger.ref)
        except TriggerError as exc:
            errors += [(n, trigger.ref, p) for p in exc.problems]
        else:
            warnings += [(n, trigger.ref, w) for w in found]
            webhook_settings = settings.model_dump(mode="json", exclude_none=True)
    planned: list[ScheduleTrigger] = []
    for n, trigger in enumerate(triggers):
        if trigger.type != "schedule":
            continue
        temporal_id = schedule_id_for(committed.workflow_id, trigger.ref)
        try:
            planned.append(read_trigger(committed.workflow, trigger.ref, temporal_id, trigger.args))
        except TriggerError as exc:
            errors += [(n, trigger.ref, p) for p in exc.problems]
        else:
            warnings += [(n, trigger.ref, w) for w in planned[-1].warnings]
    if errors or warnings:
        source = await _source_map(committed)
        if errors:
            located = [_problem(source, triggers, e, "error") for e in errors]
            raise ApiError(
                422,
                f"the workflow's triggers have {len(errors)} error(s); nothing was committed "
                f"(first: {located[0]})",
                "triggers",
                problems=[p.to_dict() for p in located],
            )
        found_warnings = [_problem(source, triggers, w, "warning") for w in warnings]
        for warning in found_warnings:
            log.warning("commit of %s: %s", committed.workflow_id, warning)
        committed.warnings.extend(found_warnings)
    await webhooks.ensure_webhook(committed.session, committed.workflow_id)
    await webhooks.update_webhook(
        committed.session, committed.workflow_id, settings=webhook_settings
    )
    committed.state.targets.clear()  # deliveries find the new version and settings at once
    await _apply_schedules(committed, planned)


async def remove_triggers(deleted: Deleted) -> None:
    """Delete the workflow's Temporal Schedules and their rows (a delete hook)."""
    deleted.state.targets.clear()  # its webhook answers 404 at once
    rows = await schedules.list_schedules(deleted.session, workflow_id=deleted.workflow_id)
    for row in rows:
        await delete_temporal(deleted.state.temporal, spec_of(row)[1])
        await schedules.delete_schedule(deleted.session, row.id)


async def _apply_schedules(committed: Committed, planned: Sequence[ScheduleTrigger]) -> None:
    rows = await schedules.list_schedules(committed.session, workflow_id=committed.workflow_id)
    by_temporal_id = {spec_of(row)[1]: row for row in rows}
    for trigger in planned:
        await write_schedule(
            committed.state,
            committed.session,
            workflow_id=committed.workflow_id,
            version=committed.version,
            workflow=committed.workflow,
            trigger=trigger,
            row=by_temporal_id.pop(trigger.temporal_id, None),
            keep_pause=keeps_pause(trigger.args),
        )
    for temporal_id, row in by_temporal_id.items():
        await delete_temporal(committed.state.temporal, temporal_id)
        await schedules.delete_schedule(committed.session, row.id)


async def _source_map(committed: Committed) -> SourceMap | None:
    """Return the line map of the committed document (for locating trigger problems)."""
    try:
        row = await workflows.get_version(
            committed.session, committed.workflow_id, committed.version
        )
        node = yaml.compose(row.yaml)
    except Exception:  # a missing map only costs line numbers
        return None
    return None if node is None else map_source(node)[0]


def _problem(
    source: SourceMap | None,
    triggers: Sequence[Trigger],
    found: tuple[int, str, str],
    severity: str,
) -> Problem:
    """Return a located problem of trigger ``found = (index, ref, text)``."""
    index, ref, text = found
    argument, _, _ = text.partition(":")
    path: list[str | int] = ["triggers", index]
    if argument.startswith("args"):
        path += argument.split(".")
    else:
        argument = ""
    field = f"triggers[{index}]" + (f".{argument}" if argument else "")
    return Problem(
        message=f"trigger '{ref}': {text}",
        line=source.line(path) if source is not None else None,
        field=field,
        severity="warning" if severity == "warning" else "error",
    )
