"""The bounds on user code: what one expression or ``python_lambda`` call may spend.

User code (expressions, lambdas, FN calls, YAML text handed to ``FN.deserialize_yaml``) runs in
processes that serve other runs: a worker evaluates expressions inside workflow tasks and runs
lambdas inside activities. One call must never take that process down, so every call is bounded:

- **work**, counted deterministically: a lambda pays one unit per node evaluated or item
  iterated, and one per :data:`ITEMS_PER_UNIT` characters or items an operation touches or builds;
  an expression pays for the size of every value its operators and FN calls touch and build.
  Being deterministic, a work budget may bound code that runs inside a Temporal workflow, where
  a replay must reach the same outcome.
- **size**: no string or collection longer than ``max_length`` is built, and the check happens
  before building it;
- **wall clock**, for lambdas only (they run in activities, never in workflow code) and for regular
  expression matching, which no work count can bound.

The pure core takes these as a :class:`Limits` value; the worker installs the one made from
``keel.config.Settings`` with :func:`configure` at start (the pure core never reads settings), and
tests use :func:`limits_set` for one block.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Characters or items an operation may touch or build for one unit of work.
ITEMS_PER_UNIT = 16
#: Units every expression run costs, whatever it reads: its fixed overhead (about 15 us, as much
#: as reading 700 items). Without it, 100,000 cheap ``for_each`` items evaluated in one workflow
#: task would be free, yet take Temporal's deadlock detector past its 2 s.
UNITS_PER_RUN = 40


@dataclass(frozen=True)
class Limits:
    """The bounds of one call of user code.

    Attributes:
        lambda_work: Work units one ``python_lambda`` call may spend (see the module docstring).
        lambda_seconds: Wall-clock seconds one ``python_lambda`` call may run; 0 turns it off.
        lambda_action_seconds: Wall-clock seconds all the calls of one lambda in one action
            (``core.transform.filter``/``map`` call it once per item) may run together; 0 turns
            it off.
        expression_work: Work units one expression evaluation may spend.
        max_length: Characters of a string, or items of a collection, a call may build.
        regex_seconds: Wall-clock seconds one FN regular-expression search may run.
        yaml_nodes: Nodes a YAML document may hold once its aliases are expanded.
        max_depth: Levels of lists and objects a value parsed by ``FN.deserialize_*`` may nest
            (deeper data overflows Python's stack, and Temporal's converter, later on).
    """

    lambda_work: int = 1_000_000
    lambda_seconds: float = 5.0
    lambda_action_seconds: float = 60.0
    expression_work: int = 3_000_000
    max_length: int = 10_000_000
    regex_seconds: float = 1.0
    yaml_nodes: int = 100_000
    max_depth: int = 64


DEFAULT = Limits()


class WorkBudget:
    """Work units that several evaluations share (by default each evaluation has its own).

    Workflow code shares one per workflow task: Temporal fails a task that computes for more
    than 2 s (its deadlock detector) and retries it forever, so what must be bounded is the sum
    of every evaluation in one task (64 ``for_each`` items evaluate their arguments together).

    Regular expressions cannot be bounded by counting, so a budget also holds the seconds its
    ``FN.regex_*`` searches may take together: however many searches one task runs, they stop
    within ``regex_seconds`` in all.

    Attributes:
        limit: Units that may be spent.
        spent: Units spent so far.
        regex_left: Seconds of regular-expression searching left.
    """

    __slots__ = ("limit", "regex_left", "spent")

    def __init__(self, limit: int, regex_seconds: float | None = None) -> None:
        self.limit = limit
        self.spent = 0
        self.regex_left = current().regex_seconds if regex_seconds is None else regex_seconds


_PROCESS: list[Limits] = [DEFAULT]
_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar(
    "keel_user_code_limits", default=None
)
#: The budget of the evaluation in progress, for FN functions that must share it (regexes).
BUDGET: contextvars.ContextVar[WorkBudget | None] = contextvars.ContextVar(
    "keel_expression_budget", default=None
)


def configure(limits: Limits) -> None:
    """Make ``limits`` the bounds of every call in this process (the worker calls it once)."""
    _PROCESS[0] = limits


def current() -> Limits:
    """Return the bounds in force: those of an enclosing :func:`limits_set`, else the process's."""
    return _CURRENT.get() or _PROCESS[0]


@contextmanager
def limits_set(limits: Limits) -> Iterator[None]:
    """Use ``limits`` for the calls made inside the block (in this context only)."""
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)
