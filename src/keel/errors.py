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
    └── ActionArgumentError         an action call's arguments do not match its signature

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
