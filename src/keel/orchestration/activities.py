"""The activities: the only place a run touches the outside world.

``keel.run_action`` runs one attempt of one action call: it resolves the arguments that read
``SECRETS`` (here, never in the workflow, so secrets stay out of history), installs the worker's
seen-keys store for the call (``core.transform.deduplicate`` reads it) and hands the call to
the configured executor (in-process or Ray), returning a structured result instead of raising,
so the workflow sees every failure as data.

Every attempt gets a :class:`~keel.actions.redaction.Redactor` that learns each secret value
the attempt reads; the result, the error text and the log records of the attempt pass through it
before they leave (for Temporal's history, the run's events, the store and the API), so a secret
that an action echoes back (a server's error page, a bad argument) is never written anywhere.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import datetime
from typing import Any

from temporalio import activity

from keel import expressions
from keel.actions.redaction import CURRENT_REDACTOR, Redactor, install_log_redaction
from keel.actions.registry import Registry, default_registry
from keel.actions.secrets import Secret, missing_keys
from keel.actions.seen_keys import CURRENT_SEEN, SeenKeys, SeenScope
from keel.dsl.instants import parse_instant
from keel.errors import ExpressionError
from keel.execution.base import ActionCall, Executor
from keel.orchestration.context import apply_deferred, jsonable
from keel.orchestration.payloads import (
    LOAD_VARIABLES,
    RESOLVE_INSTANT,
    RUN_ACTION,
    ActionResult,
    ActionTask,
    InstantRequest,
    InstantResult,
)
from keel.orchestration.secrets import NoSecrets, SecretsProvider
from keel.orchestration.variables import NoVariables, VariablesProvider

#: ``PARENT.SECRETS.<name>`` (any depth of ``PARENT.``) inside a template.
_PARENT_SECRET = re.compile(r"((?:PARENT\.)+)SECRETS\.([A-Za-z0-9_]+)")


class ActionActivities:
    """Holds what the activities need (executor, secrets) for the lifetime of a worker."""

    def __init__(
        self,
        executor: Executor,
        secrets: SecretsProvider | None = None,
        seen: SeenKeys | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.executor = executor
        self.secrets: SecretsProvider = secrets or NoSecrets()
        self.seen = seen
        install_log_redaction()
        # Where the secrets an action declares are looked up (the executor's registry).
        self._registry = registry

    @activity.defn(name=RUN_ACTION)
    async def run_action(self, task: ActionTask) -> dict[str, Any]:
        """Run one attempt of one action call on the executor; its secrets redacted from all.

        Args:
            task: The attempt. Keel's payload converter decodes it with pydantic
                (:mod:`keel.orchestration.payload_types`), not with the SDK's reflective walk.

        Returns:
            The :class:`~keel.orchestration.payloads.ActionResult` as JSON data
            (:func:`result_json`), which the workflow decodes as the dataclass.
        """
        return result_json(await self.attempt(task))

    async def attempt(self, task: ActionTask) -> ActionResult:
        """Run one attempt of ``task`` (what :meth:`run_action` does once it is decoded)."""
        redactor = Redactor()
        token = CURRENT_REDACTOR.set(redactor)
        try:
            result = await self._run(task, redactor)
        except Exception as exc:
            # Raising would put the exception's text (perhaps a secret) in history unredacted.
            activity.logger.warning("action %s failed inside Keel", task.ref, exc_info=True)
            name = type(exc).__name__
            result = ActionResult(ok=False, error_type=name, error_message=str(exc) or name)
        finally:
            CURRENT_REDACTOR.reset(token)
        if not redactor:
            return result
        return ActionResult(
            ok=result.ok,
            result=redactor.value(result.result),
            error_type=result.error_type,
            error_message=redactor.text(result.error_message or "") or result.error_message,
            retryable=result.retryable,
        )

    async def _run(self, task: ActionTask, redactor: Redactor) -> ActionResult:
        args = task.args
        if task.deferred:
            try:
                args = await self._resolve(task, redactor)
            except ExpressionError as exc:
                return ActionResult(
                    ok=False, error_type="ExpressionError", error_message=str(exc), retryable=False
                )
        try:
            declared = await self._declared_secrets(task, redactor)
        except ExpressionError as exc:
            return ActionResult(
                ok=False, error_type="SecretError", error_message=str(exc), retryable=False
            )
        token = CURRENT_SEEN.set(self._seen_scope(task))
        try:
            call = ActionCall(task.action, args, task.timeout, declared)
            outcome = await self.executor.run(call)
        finally:
            CURRENT_SEEN.reset(token)
        if outcome.error is not None:
            return ActionResult(
                ok=False,
                error_type=outcome.error.type,
                error_message=outcome.error.message,
                retryable=outcome.error.retryable,
            )
        return ActionResult(ok=True, result=jsonable(outcome.result))

    async def _declared_secrets(
        self, task: ActionTask, redactor: Redactor
    ) -> dict[str, dict[str, str]]:
        """Resolve the secrets the action declares (``@action(secrets=...)``, a template's).

        The redactor learns each value, so nothing the call returns or raises can echo it.

        Raises:
            ExpressionError: A required secret or key is missing (named, never a value).
        """
        registry = self._registry if self._registry is not None else default_registry()
        declared = registry.required_secrets(task.action)
        if not declared:
            return {}
        values: dict[str, dict[str, str]] = {}
        for item in declared:
            value = await self.secrets.get(item.name, task.environment)
            if value is None:
                if item.optional:
                    continue
                raise ExpressionError(_missing_secret(task.action, item, task.environment))
            lacking = missing_keys(item, value)
            if lacking:
                raise ExpressionError(
                    f"action {task.action} needs key(s) {', '.join(lacking)} of secret "
                    f"'{item.name}' in environment '{task.environment}'; they are not set"
                )
            values[item.name] = dict(value)
            redactor.add(values[item.name].values())
        return values

    def _seen_scope(self, task: ActionTask) -> SeenScope | None:
        """Return the seen keys of this call: the workflow's, owned by this run, action and item.

        The owner leaves out the attempt (activity ids are ``ref[item]#attempt``), so a retried
        attempt finds the keys it recorded itself as its own.
        """
        if self.seen is None:
            return None
        info = activity.info()
        run = info.workflow_id or ""
        owner = f"{run}/{info.activity_id.rsplit('#', 1)[0]}"
        # Runs started without a Keel workflow id (library use) share the scope "".
        return SeenScope(self.seen, task.workflow_id, owner)

    async def _resolve(self, task: ActionTask, redactor: Redactor) -> dict[str, Any]:
        names: set[str] = set()
        inherited: set[tuple[int, str]] = set()
        for item in task.deferred:
            names |= expressions.references(item.template).secrets
            inherited |= {
                (len(m[0]) // len("PARENT."), m[1]) for m in _PARENT_SECRET.findall(item.template)
            }
        # A deep copy: the PARENT chain is filled with secret values in place.
        context = copy.deepcopy(task.context)
        context["SECRETS"] = await self._fetch(names, task.environment, redactor)
        for depth, name in sorted(inherited):
            await self._inject_parent_secret(context, depth, name, redactor)
        values = [expressions.evaluate(item.template, context) for item in task.deferred]
        return apply_deferred(task.args, task.deferred, values)

    async def _fetch(self, names: set[str], environment: str, redactor: Redactor) -> dict[str, Any]:
        """Read secrets ``names``; the redactor learns each value before anything can echo it."""
        secrets: dict[str, Any] = {}
        for name in sorted(names):
            value = await self.secrets.get(name, environment)
            if value is None:
                raise ExpressionError(
                    f"secret '{name}' does not exist in environment '{environment}'"
                )
            secrets[name] = dict(value)
            redactor.add(secrets[name].values())
        return secrets

    async def _inject_parent_secret(
        self, context: dict[str, Any], depth: int, name: str, redactor: Redactor
    ) -> None:
        """Fill ``PARENT(.PARENT)*.SECRETS.<name>`` from that ancestor's secrets environment."""
        level: Any = context
        for _ in range(depth):
            level = level.get("PARENT") if isinstance(level, dict) else None
            if level is None:
                return  # nothing inherited at this depth: the path is a miss, as usual
        environment = level.get("SECRETS_ENVIRONMENT")
        if not isinstance(environment, str):
            raise ExpressionError(
                "PARENT.SECRETS is not available: the parent did not pass SECRETS with `inherit`"
            )
        secrets = dict(level.get("SECRETS") or {})
        secrets.update(await self._fetch({name}, environment, redactor))
        level["SECRETS"] = secrets


def result_json(result: ActionResult) -> dict[str, Any]:
    """Return ``result`` as the JSON data Temporal's converter would write for the dataclass.

    The converter serialises a dataclass through ``dataclasses.asdict``, which deep-copies the
    action's result (an HTTP response's headers and body) only to serialise the copy: ~2% of a
    ``keel worker``'s Python CPU in the I/O webhook run. The result is already plain JSON data
    (:func:`~keel.orchestration.context.jsonable`), so its fields are handed over as they are;
    the JSON written is the same, field for field.
    """
    return {name: getattr(result, name) for name in _RESULT_FIELDS}


#: The fields of :class:`ActionResult`, in order (the converter writes them in this order).
_RESULT_FIELDS = tuple(field.name for field in dataclasses.fields(ActionResult))


def _missing_secret(action: str, item: Secret, environment: str) -> str:
    keys = f" (keys: {', '.join(item.keys)})" if item.keys else ""
    return (
        f"action {action} needs secret '{item.name}'{keys} in environment '{environment}'; "
        f"it does not exist (set it with `keel secrets set {item.name}` or KEEL_SECRETS_FILE)"
    )


class VariablesActivities:
    """Holds where runs that load their own ``VARS`` read them (the store, in the service)."""

    def __init__(self, variables: VariablesProvider | None = None) -> None:
        self.variables: VariablesProvider = variables or NoVariables()

    @activity.defn(name=LOAD_VARIABLES)
    async def load_variables(self, environment: str) -> dict[str, Any]:
        """Return every variable of ``environment`` (a scheduled run's ``VARS``)."""
        return dict(await self.variables.get(environment))


@activity.defn(name=RESOLVE_INSTANT)
async def resolve_instant(request: InstantRequest) -> InstantResult:
    """Read a ``wait_until`` phrase relative to the run's clock (recorded, so replays agree)."""
    try:
        moment = parse_instant(request.text, datetime.fromisoformat(request.base))
    except ValueError as exc:
        return InstantResult(message=str(exc))
    return InstantResult(instant=moment.isoformat())
