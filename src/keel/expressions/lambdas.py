"""The restricted interpreter that runs the ``python_lambda`` strings of core actions.

Actions such as ``core.transform.filter`` take a lambda as a string
(``"lambda x: x['score'] > 5"``). Keel never hands that string to ``eval``, ``exec`` or
``compile``: :func:`compile_lambda` parses it with :func:`ast.parse`, checks every node against a
whitelist, and a small tree-walking interpreter (:mod:`keel.expressions.lambda_machine`) runs it.

What a lambda may use:

- constants, its own parameters and comprehension variables, and these builtins: ``abs all any
  bool chr dict enumerate float frozenset int len list max min ord range reversed round set
  sorted str sum tuple zip``;
- arithmetic, comparison, boolean and bitwise operators, ``in``/``not in``, ``is``, ``x if c else
  y``, subscripts and slices, list/tuple/set/dict literals (with ``*``/``**`` unpacking),
  list/set/dict comprehensions and generator expressions, f-strings;
- calls of the builtins above, of nested lambdas (``sorted(x, key=lambda i: i['n'])``), and of
  whitelisted, non-mutating methods of ``str``, ``dict``, ``list``, ``tuple`` and ``set`` values
  (see :data:`keel.expressions.lambda_builtins.METHODS`).

Everything else is refused before the lambda runs: imports, attribute reads (``x.__class__``,
``x.foo``), names such as ``open``, ``getattr``, ``eval`` or ``__import__``, ``:=``, ``await``,
``yield``.

Each call is bounded by the :class:`keel.expressions.limits.Limits` in force (the worker's come
from ``KEEL_LAMBDA_*`` settings): a budget of work (``lambda_work``, 1,000,000 by default), where
evaluating a node or iterating an item costs one unit and an operation that compares, searches,
copies or builds a value pays one unit per 16 characters or items it reads or makes (so neither
one step over a huge value nor many copies of it are free: memory is bounded too); a wall-clock
deadline (``lambda_seconds``, 5 s); strings and collections of at most ``max_length``
(10,000,000) characters or items, checked before they are built (``str()`` of a container,
f-strings, ``%`` formatting, ``*``, ``join``, format widths); integers of at most ``MAX_INT_BITS``
bits; ``MAX_CALL_DEPTH`` nested lambda calls.

A result that is a lazy iterator (a generator expression, ``range``, ``zip``, ``dict.keys()``)
is turned into a list, so that the result is plain data.

Every refusal and every failure raises :class:`keel.errors.LambdaError`, quoting the lambda.
"""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Callable
from typing import Any

from keel.errors import LambdaError
from keel.expressions.lambda_builtins import ANY_METHOD, BUILTINS, Stop
from keel.expressions.lambda_machine import Closure, Machine, signature_of
from keel.expressions.limits import current

#: Longest accepted source text.
MAX_SOURCE_LENGTH = 10_000

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
# Nodes whose children are checked the generic way: they bind no names and reach no attributes.
_PLAIN_NODES = (
    ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Dict, ast.List,
    ast.Tuple, ast.Set, ast.Subscript, ast.Slice, ast.Starred, ast.Call, ast.keyword,
    ast.JoinedStr, ast.FormattedValue, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
    ast.expr_context,
)  # fmt: skip
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.MatMult: "the @ operator is not allowed",
}


def compile_lambda(source: str) -> Callable[..., Any]:
    """Check ``source`` (``"lambda x: ..."``) and return a function that interprets it.

    Compiled lambdas are cached by source text.

    Raises:
        LambdaError: The source is not a single lambda, does not parse, or uses something the
            interpreter refuses. The returned function raises it too when a call fails.
    """
    return _compile(source)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> CompiledLambda:
    text = source.strip()
    if len(text) > MAX_SOURCE_LENGTH:
        raise _error(source, f"source is longer than {MAX_SOURCE_LENGTH:,} characters")
    node = _parse(source, text)
    try:
        _check(node, frozenset())
    except Stop as stop:
        raise _error(source, str(stop)) from None
    except RecursionError:
        raise _error(source, "expression is nested too deeply") from None
    return CompiledLambda(source, node)


class CompiledLambda:
    """A checked ``python_lambda``: call it like the Python function it spells.

    Attributes:
        source: The lambda text as given.
    """

    def __init__(self, source: str, node: ast.Lambda) -> None:
        self.source = source
        self._node = node
        args = node.args
        # Most lambdas have no defaults: build their signature once, not on every call.
        self._signature = (
            None
            if args.defaults or any(d is not None for d in args.kw_defaults)
            else signature_of(args, [], [None] * len(args.kwonlyargs))
        )

    def __repr__(self) -> str:
        return f"CompiledLambda({self.source!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the lambda on ``args`` with a fresh work budget; return plain data."""
        return self.call(None, *args, **kwargs)

    def call(self, shared_deadline: float | None, *args: Any, **kwargs: Any) -> Any:
        """Run the lambda on ``args``, stopping at ``shared_deadline`` (monotonic) at the latest."""
        machine = Machine(current(), shared_deadline)
        try:
            result = Closure(machine, self._node, {}, self._signature)(*args, **kwargs)
            return machine.materialize(result)
        except Stop as stop:
            raise _error(self.source, str(stop)) from None
        except RecursionError:
            raise _error(self.source, "calls are nested too deeply") from None
        except MemoryError:
            raise _error(self.source, "ran out of memory") from None
        except LambdaError:
            raise
        except Exception as exc:
            raise _error(self.source, f"failed with {type(exc).__name__}: {exc}") from exc


class ItemLambda:
    """A lambda that one action calls once per item, bounded as a whole as well as per call.

    Each call has its own work budget and deadline (``KEEL_LAMBDA_WORK``/``_SECONDS``), but
    10,000 items could each spend all of theirs: the calls share one more deadline,
    ``lambda_action_seconds`` from when this was made, so the action's thread stops by itself
    (a thread that runs Python cannot be stopped from outside when the action times out).
    """

    def __init__(self, source: str) -> None:
        self._compiled = _compile(source)
        seconds = current().lambda_action_seconds
        self._deadline = time.monotonic() + seconds if seconds > 0 else None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the lambda on one item."""
        return self._compiled.call(self._deadline, *args, **kwargs)


def lambda_for_items(source: str) -> Callable[..., Any]:
    """Check ``source`` and return a function for one action to call once per item.

    Raises:
        LambdaError: As :func:`compile_lambda`; calls also raise it once all of them together
            have run for ``lambda_action_seconds``.
    """
    return ItemLambda(source)


def _error(source: str, detail: str) -> LambdaError:
    shown = source if len(source) <= 200 else source[:200] + "..."
    return LambdaError(f"python_lambda {shown!r}: {detail}")


def _parse(source: str, text: str) -> ast.Lambda:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise _error(source, _syntax_problem(text, exc)) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise _error(source, f"source does not parse: {exc}") from None
    if not isinstance(tree.body, ast.Lambda):
        kind = type(tree.body).__name__
        raise _error(
            source, f"lambda must be a single `lambda` expression, not a {kind} expression"
        )
    return tree.body


def _syntax_problem(text: str, exc: SyntaxError) -> str:
    # Statement forms parse in exec mode; name the likely mistake instead of "invalid syntax".
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        where = f" at column {exc.offset}" if exc.offset else ""
        return f"syntax error{where}: {exc.msg}"
    if not module.body:
        return "source is empty: write a lambda such as `lambda x: x['score'] > 5`"
    if any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(module)):
        return "imports are not allowed"
    return "lambda must be a single `lambda` expression, not statements"


def _check(node: ast.AST, bound: frozenset[str]) -> None:
    """Refuse anything outside the whitelist; ``bound`` holds the local names in scope."""
    if type(node) in _REFUSED_NODES:
        raise Stop(_REFUSED_NODES[type(node)])
    if isinstance(node, ast.Lambda):
        args = node.args
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            _check(default, bound)
        _check(node.body, bound | _parameter_names(args))
    elif isinstance(node, _COMPREHENSIONS):
        inner = bound
        for gen in node.generators:
            if gen.is_async:
                raise Stop("async comprehensions are not allowed")
            _check(gen.iter, inner)
            inner = inner | _target_names(gen.target)
            for condition in gen.ifs:
                _check(condition, inner)
        parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        for part in parts:
            _check(part, inner)
    elif isinstance(node, ast.Name):
        if node.id not in bound and node.id not in BUILTINS:
            raise Stop(
                f"name {node.id!r} is not defined (a python_lambda may use its parameters and "
                f"these builtins only: {', '.join(sorted(BUILTINS))})"
            )
    elif isinstance(node, ast.Attribute):
        _check_attribute(node.attr, called=False)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        _check_attribute(node.func.attr, called=True)
        for child in (node.func.value, *node.args, *node.keywords):
            _check(child, bound)
    elif isinstance(node, _PLAIN_NODES):
        for child in ast.iter_child_nodes(node):
            _check(child, bound)
    else:
        raise Stop(f"{type(node).__name__} expressions are not allowed")


def _check_attribute(name: str, *, called: bool) -> None:
    if name.startswith("_"):
        raise Stop(f"attribute {name!r} is not allowed")
    if name not in ANY_METHOD:
        raise Stop(
            f"attribute {name!r} is not allowed (read keys with x[{name!r}]; the methods a "
            f"python_lambda may call are: {', '.join(sorted(ANY_METHOD))})"
        )
    if not called:
        raise Stop(f"attribute {name!r} is not allowed without a call: only methods are allowed")


def _parameter_names(args: ast.arguments) -> frozenset[str]:
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return frozenset(names)


def _target_names(target: ast.expr) -> frozenset[str]:
    if isinstance(target, ast.Name):
        return frozenset({target.id})
    if isinstance(target, ast.Tuple | ast.List):
        return frozenset().union(*(_target_names(t) for t in target.elts))
    raise Stop(f"a {type(target).__name__} is not allowed as a loop target, only names")
