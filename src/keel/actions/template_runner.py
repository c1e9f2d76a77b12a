"""Runs an action template's steps, in order, inside one action call.

Each step's arguments are evaluated against ``inputs`` (the call's arguments with the template's
defaults), ``steps.<ref>.result`` of the steps before it, and ``SECRETS`` (the values the
activity resolved for this call; see :mod:`keel.actions.secrets`). The step's action is looked
up in the same registry and called in this process (on a Ray worker when the template itself runs
there), its arguments validated as any call's. A failing step fails the template's call with an
error that names the step and its action; ``returns`` is then evaluated for the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel import expressions
from keel.actions.secrets import CURRENT_SECRETS
from keel.errors import KeelError

if TYPE_CHECKING:
    from keel.actions.registry import Registry


class TemplateStepError(KeelError):
    """A step of an action template failed; the message names the template, step and action."""


class TemplateRunner:
    """The steps of one template, ready to run.

    Args:
        name: The template's action name (for messages).
        steps: ``(ref, action, args)`` per step, in order.
        returns: The template's ``returns`` (may hold expressions); None returns the last step's
            result.
        defaults: Default values of the optional inputs.
        registry: Where step actions are looked up.
    """

    def __init__(
        self,
        *,
        name: str,
        steps: list[tuple[str, str, dict[str, Any]]],
        returns: Any,
        defaults: Mapping[str, Any],
        registry: Registry,
    ) -> None:
        self.name = name
        self.steps = steps
        self.returns = returns
        self.defaults = dict(defaults)
        self.registry = registry

    async def run(self, inputs: Mapping[str, Any]) -> Any:
        """Run every step, then return ``returns`` evaluated (or the last step's result).

        Raises:
            TemplateStepError: A step's arguments did not evaluate, did not validate, or its
                action raised; the message names the step.
        """
        results: dict[str, dict[str, Any]] = {}
        context: dict[str, Any] = {
            "inputs": {**self.defaults, **inputs},
            "steps": results,
            "SECRETS": {k: dict(v) for k, v in (CURRENT_SECRETS.get() or {}).items()},
        }
        last: Any = None
        for ref, action, args in self.steps:
            last = await self._step(ref, action, args, context)
            results[ref] = {"result": last, "result_typename": type(last).__name__}
        if self.returns is None:
            return last
        try:
            return expressions.evaluate_templates(self.returns, context)
        except KeelError as exc:
            raise TemplateStepError(f"template {self.name}: returns: {exc}") from None

    async def _step(
        self, ref: str, action: str, args: dict[str, Any], context: dict[str, Any]
    ) -> Any:
        where = f"template {self.name}: step '{ref}' ({action})"
        try:
            values = expressions.evaluate_templates(args, context)
            spec = self.registry.get(action)
            kwargs = spec.validate_args(values)
        except KeelError as exc:
            raise TemplateStepError(f"{where}: {exc}") from None
        try:
            if spec.is_async:
                return await spec.fn(**kwargs)
            # to_thread copies the context, so the step reads the same secrets.
            return await asyncio.to_thread(spec.fn, **kwargs)
        except Exception as exc:
            detail = str(exc) or type(exc).__name__
            raise TemplateStepError(f"{where} failed: {type(exc).__name__}: {detail}") from None
