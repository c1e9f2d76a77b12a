"""The execution context of a run: what expressions see, and how secrets stay out of history.

Pure (no Temporal import): the workflow owns one :class:`RunContext`, adds each action's result to
it, and asks it to evaluate templates with the run's deterministic clock. Arguments that read
``SECRETS`` are not evaluated here (the workflow has no secrets): :func:`split_secret_args` leaves
them as :class:`DeferredArg` templates, with just the context they need, for the activity.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from keel import expressions
from keel.expressions.limits import WorkBudget, current
from keel.orchestration.payloads import DeferredArg

SECRET_CONTEXT = "SECRETS"


class RunContext:
    """The ``TRIGGER``/``ACTIONS``/``ENV``/``VARS`` data of one run.

    Attributes:
        trigger: The trigger input.
        actions: ``ACTIONS``: per ref, ``{result, result_typename}`` (and ``error``,
            ``error_typename`` for a failure on an error path).
        env: ``ENV``: run metadata.
        strict: Whether a path that matches nothing is an error (``config.strict_expressions``).
        task_marker: Names the workflow task in progress (the history length when it started,
            the same on a replay); evaluations within one task share one work budget. None
            gives every evaluation its own.
    """

    def __init__(
        self,
        trigger: Any,
        env: dict[str, Any],
        *,
        strict: bool = False,
        clock: Callable[[], datetime] | None = None,
        variables: Mapping[str, Any] | None = None,
        parent: Mapping[str, Any] | None = None,
    ) -> None:
        self.trigger = trigger
        self.actions: dict[str, dict[str, Any]] = {}
        self.env = env
        self.strict = strict
        self.clock = clock
        self.variables = dict(variables or {})
        self.parent = dict(parent) if parent is not None else None
        self.task_marker: Callable[[], int] | None = None
        self._task: int | None = None
        self._budget: WorkBudget | None = None

    def work_budget(self) -> WorkBudget | None:
        """Return the work budget of the workflow task in progress (a new one per task).

        Temporal's deadlock detector fails a workflow task that computes for 2 s and retries it
        forever; the sum of what one task evaluates is what must stay below that. Work is
        counted, not timed, so a replay refuses exactly what the first run refused.
        """
        if self.task_marker is None:
            return None
        task = self.task_marker()
        if self._budget is None or task != self._task:
            self._task, self._budget = task, WorkBudget(current().expression_work)
        return self._budget

    def as_dict(self, loop_vars: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the expression context (without secrets)."""
        context = {
            "TRIGGER": self.trigger,
            "ACTIONS": self.actions,
            "ENV": self.env,
            "VARS": self.variables,
            "var": dict(loop_vars or {}),
        }
        if self.parent is not None:
            context["PARENT"] = self.parent
        return context

    def evaluate(
        self,
        value: Any,
        loop_vars: Mapping[str, Any] | None = None,
        on_miss: Callable[[str], None] | None = None,
    ) -> Any:
        """Evaluate every template inside ``value`` against this context."""
        return expressions.evaluate_templates(
            value,
            self.as_dict(loop_vars),
            strict=self.strict,
            on_miss=on_miss,
            clock=self.clock,
            budget=self.work_budget(),
        )

    def fork(self) -> RunContext:
        """Return a copy whose ``ACTIONS`` may change apart from this one's (a region's stream).

        The copy shares everything else; ``ACTIONS`` is copied shallowly (results are never
        changed in place, only replaced).
        """
        copy = RunContext(
            self.trigger,
            self.env,
            strict=self.strict,
            clock=self.clock,
            variables=self.variables,
            parent=self.parent,
        )
        copy.actions = dict(self.actions)
        return copy

    def record_success(self, ref: str, result: Any, error: Any = None) -> None:
        """Add a finished action's result (JSON data, see :func:`jsonable`) as ``ACTIONS.<ref>``.

        Args:
            ref: The action.
            result: Its result.
            error: Failures it reports beside a result (a gather's ``partition`` strategy).
        """
        self.actions[ref] = {"result": result, "result_typename": type_name(result)}
        if error is not None:
            self.actions[ref]["error"] = error
            self.actions[ref]["error_typename"] = type_name(error)

    def record_failure(self, ref: str, error: dict[str, Any]) -> None:
        """Add a failed action as ``ACTIONS.<ref>`` with its ``error`` (for error paths)."""
        self.actions[ref] = {
            "result": None,
            "result_typename": "NoneType",
            "error": error,
            "error_typename": type_name(error),
        }

    def result_context(self) -> dict[str, Any]:
        """Return the run's result when the workflow has no ``returns``: the whole context."""
        return {"ACTIONS": self.actions, "TRIGGER": self.trigger}


def jsonable(value: Any) -> Any:
    """Return ``value`` as JSON data: datetimes and dates as ISO text, durations as seconds.

    Results travel through Temporal's JSON payloads and Keel's store, and a later expression must
    see the same value after a replay as before it, so results are normalised once, here.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def type_name(value: Any) -> str:
    """Return the Python type name of a JSON-like value, as ``result_typename`` reports it."""
    return type(value).__name__


def split_secret_args(
    args: dict[str, Any], context: RunContext, loop_vars: Mapping[str, Any] | None, on_miss: Any
) -> tuple[dict[str, Any], list[DeferredArg], dict[str, Any]]:
    """Evaluate ``args`` except the templates that read ``SECRETS``.

    Returns:
        The evaluated args (deferred places hold ``None``), the deferred templates with their
        paths, and the context subset those templates need (``TRIGGER``/``ACTIONS``/``ENV``/
        ``var``/``VARS``, but only what they reference).
    """
    deferred = [
        DeferredArg(list(path), text)
        for path, text in expressions.iter_strings(args)
        if reads_secrets(text)
    ]
    if not deferred:
        return context.evaluate(args, loop_vars, on_miss), [], {}
    blanked = _blank(args, {tuple(d.path) for d in deferred})
    evaluated = context.evaluate(blanked, loop_vars, on_miss)
    return evaluated, deferred, _subset(deferred, context, loop_vars)


def reads_secrets(text: str) -> bool:
    """Return whether a template reads ``SECRETS`` (its own or an ancestor's via ``PARENT``)."""
    if "SECRETS" not in text:
        return False  # fast path: most templates never mention secrets
    contexts = expressions.references(text).contexts
    return SECRET_CONTEXT in contexts or "PARENT" in contexts


def apply_deferred(
    args: dict[str, Any], deferred: list[DeferredArg], values: list[Any]
) -> dict[str, Any]:
    """Put evaluated deferred values back at their paths (a new structure; ``args`` is kept)."""
    import copy

    result = copy.deepcopy(args)
    for item, value in zip(deferred, values, strict=True):
        target: Any = result
        for key in item.path[:-1]:
            target = target[key]
        target[item.path[-1]] = value
    return result


def _blank(value: Any, paths: set[tuple[str | int, ...]], here: tuple[str | int, ...] = ()) -> Any:
    if here in paths:
        return None
    if isinstance(value, dict):
        return {k: _blank(v, paths, (*here, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, paths, (*here, i)) for i, v in enumerate(value)]
    return value


def _subset(
    deferred: list[DeferredArg], context: RunContext, loop_vars: Mapping[str, Any] | None
) -> dict[str, Any]:
    full = context.as_dict(loop_vars)
    needed: dict[str, Any] = {}
    for item in deferred:
        refs = expressions.references(item.template)
        for name in refs.contexts - {SECRET_CONTEXT, "FN"}:
            if name == "ACTIONS":
                actions = needed.setdefault("ACTIONS", {})
                for ref in refs.actions:
                    if ref in context.actions:
                        actions[ref] = context.actions[ref]
            elif name in full:
                needed[name] = full[name]
    return needed
