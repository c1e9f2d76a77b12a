"""The exception hierarchy of Keel.

Every error Keel raises on purpose derives from :class:`KeelError`, so the CLI and the API can turn
any of them into a clear message (never a traceback) at one place::

    KeelError
    ├── ConfigError                 a setting is missing or malformed
    ├── ExpressionError             a ${{ }} expression failed to parse or evaluate
    │   ├── ExpressionSyntaxError   ... it does not parse
    │   └── PathMissError           ... a path matched nothing under strict_expressions
    ├── LambdaError                 a python_lambda was refused or failed
    ├── DefinitionError             a workflow document is invalid (carries every problem)
    ├── RegistryError               an action was registered twice or is not registered
    ├── ActionArgumentError         an action call's arguments do not match its signature
    ├── TriggerError                a trigger's args are invalid (carries every problem)
    └── WebhookError                a webhook request is refused (carries the HTTP status)

This module imports nothing, so the pure core (``keel.dsl``, ``keel.expressions``) may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class KeelError(Exception):
    """Base class of every error Keel raises for a user to read."""


class ConfigError(KeelError):
    """A setting is missing or has a value Keel cannot use."""


class ExpressionError(KeelError):
    """An expression could not be parsed or evaluated.

    Attributes:
        expression: The expression text (without ``${{ }}``) the error concerns, when known.
        detail: What is wrong, without the expression prefix.
    """

    def __init__(self, detail: str, expression: str | None = None) -> None:
        self.detail = detail
        self.expression = expression
        super().__init__(f"{detail} in expression '{expression}'" if expression else detail)


class ExpressionSyntaxError(ExpressionError):
    """An expression does not parse."""


class PathMissError(ExpressionError):
    """A path matched nothing while ``config.strict_expressions`` is on.

    Attributes:
        path: The full path that was asked for.
        walked: The longest prefix of the path that did resolve.
    """

    def __init__(self, path: str, walked: str, expression: str | None = None) -> None:
        self.path = path
        self.walked = walked
        super().__init__(f"path '{path}' matched nothing (resolved up to '{walked}')", expression)


class LambdaError(KeelError):
    """A ``python_lambda`` string was refused by the sandbox or failed while running."""


class DefinitionError(KeelError):
    """A workflow document is invalid.

    Attributes:
        problems: Every problem found, each a ``keel.dsl.diagnostics.Problem``.
    """

    def __init__(self, problems: Sequence[Any]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the workflow:\n{lines}")


class RegistryError(KeelError):
    """An action name is unknown, or was registered twice."""


class ActionArgumentError(KeelError):
    """The arguments of an action call do not match the action's signature.

    Attributes:
        action: The dotted action name.
        problems: One message per bad argument, each naming the argument.
    """

    def __init__(self, action: str, problems: Sequence[str]) -> None:
        self.action = action
        self.problems = list(problems)
        super().__init__(f"bad arguments for {action}: " + "; ".join(self.problems))


class TriggerError(KeelError):
    """A trigger's ``args`` are invalid, so the trigger cannot be applied.

    Attributes:
        ref: The trigger's ref, when known.
        problems: One message per problem, each naming the argument (``args.cron: ...``).
    """

    def __init__(self, problems: Sequence[str], ref: str | None = None) -> None:
        self.ref = ref
        self.problems = list(problems)
        where = f"trigger '{ref}'" if ref else "trigger"
        super().__init__(f"invalid args for {where}: " + "; ".join(self.problems))


class WebhookError(KeelError):
    """A webhook request is refused; nothing was started.

    Attributes:
        status: The HTTP status to answer with (400, 401, 403, 405, 413, 422, ...).
        message: What is wrong, safe to show to the caller (it never carries a secret).
        problems: Further details, one per item (e.g. one per bad ``expects`` field).
    """

    def __init__(self, status: int, message: str, problems: Sequence[str] = ()) -> None:
        self.status = status
        self.message = message
        self.problems = list(problems)
        detail = f"{message}: " + "; ".join(self.problems) if self.problems else message
        super().__init__(detail)


class StoreError(KeelError):
    """Keel's database refused a request or could not serve it."""


class NotFoundError(StoreError):
    """A stored resource does not exist.

    Attributes:
        resource: What was looked for (``workflow``, ``workflow version``, ``run``...).
        key: The identifier it was looked for by.
    """

    def __init__(self, resource: str, key: str) -> None:
        self.resource = resource
        self.key = key
        super().__init__(f"{resource} '{key}' not found")


class ConflictError(StoreError):
    """A write would clash with a stored resource (a duplicate alias, name or id).

    Attributes:
        resource: The kind of resource (``workflow``, ``secret``...).
        key: The identifier that clashes.
        detail: What clashes and what would be right.
    """

    def __init__(self, resource: str, key: str, detail: str) -> None:
        self.resource = resource
        self.key = key
        self.detail = detail
        super().__init__(f"{resource} '{key}': {detail}")


class InvalidCursorError(StoreError):
    """A page cursor was not made by Keel (or was altered); start again from the first page."""


class DecryptionError(StoreError):
    """Stored secrets cannot be decrypted with the configured key (``KEEL_SECRET_KEY``)."""
