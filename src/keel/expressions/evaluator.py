"""The evaluator: a node tree compiled once into nested closures, then run against a context.

Compiling resolves everything static (which operator, which cast, the split of each path) so a
run only does the work the data needs; :func:`compile_expression` caches the result by text.
Nothing here calls ``eval``, reads attributes of Python objects, or lets a result grow past
:data:`MAX_SIZE` items.

Each evaluation has a budget of work (:attr:`keel.expressions.limits.Limits.expression_work`):
every FN call pays for the items of its arguments and of its result (one unit per list or object
item, one per 16 characters), every operator for what it reads and builds. Counting work, not
time, keeps the bound deterministic: expressions are evaluated inside Temporal workflow code,
where a replay must fail (or not) exactly as the first run did, and where a workflow task that
computes for more than 2 s is taken for a deadlock and retried forever instead of failing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from keel.errors import ExpressionError, PathMissError
from keel.expressions import nodes as n
from keel.expressions.analysis import call_problem, cast_problem, context_problem
from keel.expressions.casts import cast
from keel.expressions.functions import FUNCTIONS, Function
from keel.expressions.limits import BUDGET, ITEMS_PER_UNIT, UNITS_PER_RUN, WorkBudget, current
from keel.expressions.parser import parse
from keel.expressions.paths import MISSING, find, jsonpath, walk

#: The largest string or list an operator may build (``'a' * 10**9`` is refused, not attempted).
MAX_SIZE = 1_000_000


class Scope:
    """What one evaluation runs against: the context, how to treat a miss, its work budget."""

    __slots__ = ("budget", "context", "on_miss", "strict")

    def __init__(
        self,
        context: Mapping[str, Any],
        strict: bool,
        on_miss: Callable[[str], None] | None,
        budget: WorkBudget | None = None,
    ) -> None:
        self.context = context
        self.strict = strict
        self.on_miss = on_miss
        self.budget = budget if budget is not None else WorkBudget(current().expression_work)

    def charge(self, *values: Any) -> None:
        """Pay for reading or building ``values`` (their top level); refuse past the budget."""
        budget = self.budget
        for value in values:
            if isinstance(value, str):
                budget.spent += len(value) // ITEMS_PER_UNIT
            elif isinstance(value, list | tuple | Mapping):
                budget.spent += len(value)
        if budget.spent > budget.limit:
            self._refuse()

    def charge_deep(self, values: list[Any]) -> None:
        """Pay for every item nested in ``values``, the arguments of a call about to read them.

        The walk stops as soon as the budget is spent, so it costs at most what it bounds.
        """
        budget = self.budget
        stack = list(values)
        while stack:
            value = stack.pop()
            if isinstance(value, str):
                budget.spent += len(value) // ITEMS_PER_UNIT
            elif isinstance(value, list | tuple | Mapping):
                budget.spent += len(value)
                if budget.spent > budget.limit:
                    self._refuse()  # before walking the items
                items = value.values() if isinstance(value, Mapping) else value
                stack.extend(v for v in items if isinstance(v, list | tuple | Mapping))
            if budget.spent > budget.limit:
                self._refuse()

    def _refuse(self) -> None:
        raise self.refusal()

    def refusal(self) -> ExpressionError:
        """Return the error of a spent budget."""
        return ExpressionError(
            f"too much work (more than {self.budget.limit:,} units; KEEL_EXPRESSION_WORK): "
            "the expression reads or builds too much data, or too many expressions run at once"
        )

    def miss(self, path: str, walked: str) -> None:
        """Report that ``path`` matched nothing (resolved up to ``walked``); its value is None."""
        if self.strict:
            raise PathMissError(path, walked)
        if self.on_miss is not None:
            self.on_miss(path)


Compiled = Callable[[Scope], Any]


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Compiled:
    """Parse and compile a bare expression (no ``${{ }}``), cached by its text.

    Raises:
        ExpressionError: The expression does not parse, or has a static problem (unknown
            context, bad cast, an iterator outside ``for_each``).
    """
    node = parse(expression)
    if isinstance(node, n.IteratorNode):
        raise ExpressionError("'for ... in ...' is only allowed in for_each", expression)
    try:
        return _compile(node)
    except ExpressionError as exc:
        raise located(exc, expression) from None
    except RecursionError:
        raise ExpressionError("expression is nested too deeply", expression) from None


def run(compiled: Compiled, expression: str, scope: Scope) -> Any:
    """Run a compiled expression; every failure comes out as an ExpressionError naming it."""
    budget = scope.budget
    budget.spent += UNITS_PER_RUN
    if budget.spent > budget.limit:
        raise located(scope.refusal(), expression)
    token = BUDGET.set(budget)  # FN regexes share the evaluation's budget of seconds
    try:
        return compiled(scope)
    except ExpressionError as exc:
        raise located(exc, expression) from exc.__cause__
    except RecursionError:
        raise ExpressionError("expression is nested too deeply", expression) from None
    except Exception as exc:  # a bug here must not crash a workflow task; say what happened
        detail = f"internal error ({type(exc).__name__}: {exc})"
        raise ExpressionError(detail, expression) from exc
    finally:
        BUDGET.reset(token)


def located(exc: ExpressionError, expression: str) -> ExpressionError:
    """Return ``exc`` naming ``expression`` (the same error when it names one already)."""
    if exc.expression is not None:
        return exc
    if isinstance(exc, PathMissError):
        return PathMissError(exc.path, exc.walked, expression)
    return type(exc)(exc.detail, expression)


def _compile(node: n.Node) -> Compiled:
    match node:
        case n.Literal(value):
            return lambda scope: value
        case n.PathNode():
            return _path(node)
        case n.ListNode(items):
            parts = tuple(_compile(item) for item in items)
            return lambda scope: [part(scope) for part in parts]
        case n.DictNode(pairs):
            return _dict(tuple((_compile(k), _compile(v)) for k, v in pairs))
        case n.CallNode():
            return _call(node)
        case n.CastNode(kind, operand):
            return _cast(kind, _compile(operand))
        case n.UnaryNode(op, operand):
            return _unary(op, _compile(operand))
        case n.BinaryNode(op, left, right):
            return _binary(op, _compile(left), _compile(right))
        case n.CompareNode(first, rest):
            return _compare(_compile(first), tuple((op, _compile(item)) for op, item in rest))
        case n.LogicNode(op, left, right):
            return _logic(op, _compile(left), _compile(right))
        case n.NotNode(operand):
            inner = _compile(operand)
            return lambda scope: not inner(scope)
        case n.TernaryNode(condition, then, otherwise):
            return _ternary(_compile(condition), _compile(then), _compile(otherwise))
        case n.IndexNode(target, index):
            return _index(node, _compile(target), _compile(index))
    raise ExpressionError("'for ... in ...' is only allowed in for_each")


def _path(node: n.PathNode) -> Compiled:
    problem = context_problem(node.context)
    if problem:
        raise ExpressionError(problem)
    name, text, path = node.context, node.text, node.path
    keys, tail, plural = path.keys, path.tail, path.plural
    if tail is not None:
        jsonpath(tail)  # a bad JSONPath is a static error: report it now, not on first use

    def resolve(scope: Scope) -> Any:
        value = scope.context.get(name, MISSING)
        if value is MISSING:
            return scope.miss(text, "")
        if keys:
            value, at = walk(value, keys)
            if at >= 0:
                return scope.miss(text, name + "".join(path.texts[:at]))
        if tail is not None:
            value = find(tail, plural, value)
            if value is MISSING:
                return scope.miss(text, name + "".join(path.texts))
        return value

    return resolve


def _dict(pairs: tuple[tuple[Compiled, Compiled], ...]) -> Compiled:
    def build(scope: Scope) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_of, value_of in pairs:
            key = key_of(scope)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise ExpressionError(f"an object key must be a string or number, not {_type(key)}")
            result[key] = value_of(scope)
        return result

    return build


def _call(node: n.CallNode) -> Compiled:
    name = node.function
    if name is None:
        raise ExpressionError(call_problem(node.callee, len(node.args), False) or "bad call")
    argc, mapped, label = len(node.args), node.mapped, node.callee
    args = tuple(_compile(arg) for arg in node.args)

    def call(scope: Scope) -> Any:
        function = FUNCTIONS.get(name)
        if function is None or not function.accepts(argc):
            raise ExpressionError(call_problem(node.callee, argc, True) or "bad call")
        values = [arg(scope) for arg in args]
        scope.charge_deep(values)  # before the call: a refused call does no work
        result = _broadcast(function, label, values) if mapped else _invoke(function, label, values)
        scope.charge(result)
        return result

    return call


def _invoke(function: Function, label: str, values: list[Any]) -> Any:
    try:
        return function.impl(*values)
    except ExpressionError:
        raise
    except Exception as exc:  # FN bodies raise ordinary exceptions; name the call
        message = str(exc) or type(exc).__name__
        raise ExpressionError(f"{label} failed: {message} ({type(exc).__name__})") from exc


def _broadcast(function: Function, label: str, values: list[Any]) -> list[Any]:
    lengths = sorted({len(v) for v in values if isinstance(v, list)})
    if not lengths:
        raise ExpressionError(f"{label} needs at least one list argument to map over")
    if len(lengths) > 1:
        shown = ", ".join(str(size) for size in lengths)
        raise ExpressionError(f"{label}: list arguments have different lengths ({shown})")
    columns = [v if isinstance(v, list) else [v] * lengths[0] for v in values]
    return [_invoke(function, label, list(row)) for row in zip(*columns, strict=True)]


def _cast(kind: str, operand: Compiled) -> Compiled:
    problem = cast_problem(kind)
    if problem:
        raise ExpressionError(problem)
    return lambda scope: cast(kind, operand(scope))


def _unary(op: str, operand: Compiled) -> Compiled:
    def apply(scope: Scope) -> Any:
        value = operand(scope)
        if not _is_number(value):
            raise ExpressionError(f"cannot apply unary '{op}' to {_type(value)}")
        return -value if op == "-" else +value

    return apply


def _logic(op: str, left: Compiled, right: Compiled) -> Compiled:
    if op == "&&":
        return lambda scope: left(scope) and right(scope)
    return lambda scope: left(scope) or right(scope)


def _ternary(condition: Compiled, then: Compiled, otherwise: Compiled) -> Compiled:
    return lambda scope: then(scope) if condition(scope) else otherwise(scope)


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(first: Compiled, rest: tuple[tuple[str, Compiled], ...]) -> Compiled:
    steps = tuple((op, _COMPARISONS[op], item) for op, item in rest)

    def compare(scope: Scope) -> bool:
        left = first(scope)
        for op, test, item in steps:
            right = item(scope)
            scope.charge(left, right)
            try:
                if not test(left, right):
                    return False
            except TypeError:
                raise ExpressionError(
                    f"cannot compare {_type(left)} and {_type(right)} with '{op}'"
                ) from None
            left = right
        return True

    return compare


def _binary(op: str, left: Compiled, right: Compiled) -> Compiled:
    apply = _OPERATORS[op]

    def binary(scope: Scope) -> Any:
        a, b = left(scope), right(scope)
        if type(a) is not int or type(b) is not int:  # plain numbers cost nothing to count
            scope.charge(a, b)
            result = apply(a, b)
            scope.charge(result)
            return result
        return apply(a, b)

    return binary


def _index(node: n.IndexNode, target: Compiled, index: Compiled) -> Compiled:
    # Indexing follows the rules of paths: a dict by key, a list or string by int position;
    # anything else (a missing key, an int target, a str index into a list) is a miss.
    text, base = n.source(node), n.source(node.target)

    def get(scope: Scope) -> Any:
        value, key = target(scope), index(scope)
        if isinstance(value, Mapping) and isinstance(key, str | int | float | bool | None):
            found = value.get(key, MISSING)
            if found is not MISSING:
                return found
        elif (
            isinstance(value, list | str | tuple)
            and isinstance(key, int)
            and not isinstance(key, bool)
            and -len(value) <= key < len(value)
        ):
            return value[key]
        return scope.miss(text, base)

    return get


def _type(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _refuse(op: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(f"cannot apply '{op}' to {_type(left)} and {_type(right)}")


def _check_size(size: int) -> None:
    if size > MAX_SIZE:
        raise ExpressionError(f"result too large ({size} items; the limit is {MAX_SIZE})")


def _add(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return _arithmetic("+", operator.add, left, right)
    if isinstance(left, str) and isinstance(right, str):
        _check_size(len(left) + len(right))
        return left + right
    if isinstance(left, list) and isinstance(right, list):
        _check_size(len(left) + len(right))
        return left + right
    raise _refuse("+", left, right)


def _multiply(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return _arithmetic("*", operator.mul, left, right)
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(sequence, str | list) and isinstance(count, int):
        _check_size(len(sequence) * max(count, 0))
        return sequence * count
    raise _refuse("*", left, right)


def _numeric(op: str, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def numeric(left: Any, right: Any) -> Any:
        if not (_is_number(left) and _is_number(right)):
            raise _refuse(op, left, right)
        if op in "/%" and right == 0:
            raise ExpressionError("division by zero" if op == "/" else "modulo by zero")
        return _arithmetic(op, apply, left, right)

    return numeric


def _arithmetic(op: str, apply: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    try:
        return apply(left, right)
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        raise ExpressionError(f"'{op}' failed: {exc}") from None


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExpressionError(f"'in <string>' needs a string on the left, not {_type(item)}")
        return item in container
    if isinstance(container, list | tuple | Mapping):
        try:
            return item in container
        except TypeError:
            raise ExpressionError(f"cannot look up {_type(item)} in an object") from None
    raise ExpressionError(f"cannot test membership in {_type(container)}")


def _same(left: Any, right: Any) -> bool:
    # `is` on JSON data: identity for None/True/False; otherwise the same type and equal value
    # (Python's identity of two equal strings or numbers is an accident of interning).
    if left is None or right is None or isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return type(left) is type(right) and bool(left == right)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _numeric("-", operator.sub),
    "*": _multiply,
    "/": _numeric("/", operator.truediv),
    "%": _numeric("%", operator.mod),
    "in": lambda left, right: _contains(right, left),
    "not in": lambda left, right: not _contains(right, left),
    "is": _same,
    "is not": lambda left, right: not _same(left, right),
}
