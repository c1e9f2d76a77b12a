"""The tree-walking interpreter behind :func:`keel.expressions.lambdas.compile_lambda`.

It evaluates an already checked ``ast.Lambda`` and charges its work to the budget of the call
(:class:`keel.expressions.limits.Limits`): one unit per node evaluated or item iterated, and one
per :data:`~keel.expressions.limits.ITEMS_PER_UNIT` characters or items that an operation
compares, searches, copies or builds, so that a single step over a large value costs what it
does. A wall-clock deadline backs the budget up. :mod:`keel.expressions.lambda_builtins` holds
what a lambda may call and the size guards applied before anything large is built.
"""

from __future__ import annotations

import ast
import functools
import inspect
import operator
import time
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Sized, ValuesView
from typing import Any

from keel.expressions.lambda_builtins import (
    BUILTINS,
    MAX_CALL_DEPTH,
    METHODS,
    SET_METHODS,
    Builtin,
    Stop,
    guard_binary,
    guard_format_spec,
    guard_length,
    guard_rendered,
    guard_str_method,
)
from keel.expressions.limits import ITEMS_PER_UNIT, Limits

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}

_CONVERSIONS: dict[int, Callable[[Any], str]] = {ord("r"): repr, ord("a"): ascii, ord("s"): str}

Env = dict[str, Any]

_BUILT = (str, bytes, list, tuple, dict, set, frozenset)
_HASHED = (ast.In, ast.NotIn)
_LOOKUPS = frozenset({"get", "keys", "values", "items"})
#: Work units between two looks at the wall clock (reading it costs more than a step).
_CLOCK_EVERY = 1024


def signature_of(
    args: ast.arguments, defaults: list[Any], kw_defaults: list[Any]
) -> inspect.Signature:
    """Build the call signature of a lambda from its ``args`` and evaluated default values."""
    kind = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    padded = [kind.empty] * (len(positional) - len(defaults)) + defaults
    only = len(args.posonlyargs)
    params = [
        kind(arg.arg, kind.POSITIONAL_ONLY if i < only else kind.POSITIONAL_OR_KEYWORD, default=d)
        for i, (arg, d) in enumerate(zip(positional, padded, strict=True))
    ]
    if args.vararg is not None:
        params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
    params += [
        kind(arg.arg, kind.KEYWORD_ONLY, default=kind.empty if node is None else default)
        for arg, node, default in zip(args.kwonlyargs, args.kw_defaults, kw_defaults, strict=True)
    ]
    if args.kwarg is not None:
        params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(params)


class Closure:
    """A lambda value: the top-level lambda, or one nested in it, bound to its machine."""

    def __init__(
        self,
        machine: Machine,
        node: ast.Lambda,
        env: Env,
        signature: inspect.Signature | None = None,
    ) -> None:
        self.machine = machine
        self.node = node
        self.env = env
        if signature is None:
            args = node.args
            defaults = [machine.eval(d, env) for d in args.defaults]
            kw_defaults = [None if d is None else machine.eval(d, env) for d in args.kw_defaults]
            signature = signature_of(args, defaults, kw_defaults)
        self.signature = signature

    def __repr__(self) -> str:
        return "<lambda>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the lambda body with ``args`` bound to its parameters."""
        machine = self.machine
        if machine.depth >= MAX_CALL_DEPTH:
            raise Stop(f"lambda calls are nested more than {MAX_CALL_DEPTH} deep")
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        machine.depth += 1
        try:
            return machine.eval(self.node.body, {**self.env, **bound.arguments})
        finally:
            machine.depth -= 1


class Machine:
    """Evaluates the nodes of one call, charging their work against the budget of that call.

    Attributes:
        limits: The bounds of this call.
        steps: Work units spent so far.
        depth: Nested lambda calls in progress.
    """

    def __init__(self, limits: Limits, shared_deadline: float | None = None) -> None:
        self.limits = limits
        self.steps = 0
        self.depth = 0
        self._budget = limits.lambda_work
        seconds = limits.lambda_seconds
        self._deadline = time.monotonic() + seconds if seconds > 0 else None
        self._too_long = f"more than {seconds:g} seconds; KEEL_LAMBDA_SECONDS"
        # A lambda called once per item is also bounded as a whole (see ItemLambda): whichever
        # deadline comes first stops the call, and the error names that one.
        if shared_deadline is not None and (
            self._deadline is None or shared_deadline < self._deadline
        ):
            self._deadline = shared_deadline
            self._too_long = (
                f"its calls in this action took more than {limits.lambda_action_seconds:g} "
                "seconds together; KEEL_LAMBDA_ACTION_SECONDS"
            )
        self._next_clock = _CLOCK_EVERY

    def tick(self, count: int = 1) -> None:
        """Charge ``count`` work units; stop the call when the budget or the time is spent."""
        self.steps += count
        if self.steps > self._budget:
            raise Stop(f"ran too long (more than {self._budget:,} steps of work; KEEL_LAMBDA_WORK)")
        if self._deadline is not None and self.steps >= self._next_clock:
            self._next_clock = self.steps + _CLOCK_EVERY
            if time.monotonic() > self._deadline:
                raise Stop(f"ran too long ({self._too_long})")

    def lazy(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``iterable`` at one step per item."""
        for item in iterable:
            self.tick()
            yield item

    def eager(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Like :meth:`lazy`, but stop at once when a sized input cannot fit the budget."""
        if isinstance(iterable, Sized):
            self.afford(len(iterable))
        return self.lazy(iterable)

    def charge(self, copied: Sized) -> None:
        """Charge one step per item of ``copied``, a collection about to be copied whole."""
        self.afford(len(copied))
        self.tick(len(copied))

    def touch(self, *values: Any) -> None:
        """Charge for an operation that reads ``values`` whole (compares, searches, hashes)."""
        size = sum(len(v) for v in values if isinstance(v, _BUILT))
        if size >= ITEMS_PER_UNIT:
            self.afford(size // ITEMS_PER_UNIT)
            self.tick(size // ITEMS_PER_UNIT)

    def afford(self, size: int) -> None:
        """Stop at once when ``size`` more units of work cannot fit the budget."""
        if self.steps + size > self._budget:
            raise Stop(
                f"ran too long: it would take {size:,} more steps of work "
                f"(limit {self._budget:,}, KEEL_LAMBDA_WORK)"
            )

    def materialize(self, value: Any) -> Any:
        """Turn a lazy result (generator, range, zip, dict view) into a list."""
        if isinstance(value, Iterator | range | KeysView | ValuesView | ItemsView):
            return list(self.eager(value))
        return value

    def native(self, value: Any) -> Any:
        """Make a builtin value callable by Python code (``sorted(x, key=len)``)."""
        if isinstance(value, Builtin):
            return functools.partial(value.impl, self)
        return value

    def eval(self, node: ast.AST, env: Env) -> Any:
        """Evaluate ``node`` with the local names ``env``."""
        self.tick()
        handler = _HANDLERS.get(type(node))
        if handler is None:  # the checker refuses these first; this guards against a gap
            raise Stop(f"{type(node).__name__} expressions are not allowed")
        return handler(self, node, env)

    def binary(self, op: type[ast.operator], left: Any, right: Any) -> Any:
        """Apply ``op``, refusing results too large to build."""
        guard_binary(self, op, left, right)
        self.touch(left, right)
        return self.created(_BINARY[op](left, right))

    def created(self, value: Any) -> Any:
        """Charge for ``value``, just built; return it.

        Charging copies bounds the memory a call can fill, not only its time: without it,
        ``[x.upper() for i in range(1000)]`` on a large ``x`` would build a thousand copies.
        """
        if isinstance(value, _BUILT):
            guard_length(self, len(value))
            self.tick(len(value) // ITEMS_PER_UNIT)
        return value

    def call(self, callee: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Call a lambda or a whitelisted builtin."""
        if isinstance(callee, Closure):
            return callee(*args, **kwargs)
        if isinstance(callee, Builtin):
            args = [self.native(a) for a in args]
            kwargs = {k: self.native(v) for k, v in kwargs.items()}
            return callee.impl(self, *args, **kwargs)
        raise TypeError(f"'{type(callee).__name__}' object is not callable")

    def method(self, receiver: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Call the whitelisted method ``name`` of ``receiver``."""
        allowed = next((m for t, m in METHODS.items() if isinstance(receiver, t)), frozenset())
        if name not in allowed:
            raise Stop(f"method {name!r} of a {type(receiver).__name__} value is not allowed")
        args = [self.native(a) for a in args]
        kwargs = {k: self.native(v) for k, v in kwargs.items()}
        if isinstance(receiver, str):
            args = guard_str_method(self, receiver, name, args)
        elif name in SET_METHODS:
            args = [list(self.eager(a)) for a in args]
        # Searching, counting, copying and case-mapping read the whole receiver and arguments
        # (a dict's get and views do not read the dict).
        if name in _LOOKUPS and isinstance(receiver, dict):
            self.touch(*args)
        else:
            self.touch(receiver, *args)
        result = getattr(receiver, name)(*args, **kwargs)
        if name in {"split", "rsplit", "splitlines"} and isinstance(result, list):
            self.tick(len(result))  # each part is a new object
        return result if name == "get" else self.created(result)  # get() builds nothing

    def items(self, nodes: list[ast.expr], env: Env) -> list[Any]:
        """Evaluate list elements or call arguments, expanding ``*iterable``."""
        values: list[Any] = []
        for item in nodes:
            if isinstance(item, ast.Starred):
                values.extend(self.eager(self.eval(item.value, env)))
            else:
                values.append(self.eval(item, env))
        return values

    def bindings(
        self, generators: list[ast.comprehension], env: Env, index: int = 0
    ) -> Iterator[Env]:
        """Yield the scope of each iteration of a comprehension's ``for`` clauses."""
        if index == len(generators):
            yield env
            return
        gen = generators[index]
        for item in self.lazy(self.eval(gen.iter, env)):
            _assign(gen.target, item, env)
            if all(self.eval(condition, env) for condition in gen.ifs):
                yield from self.bindings(generators, env, index + 1)


def _assign(target: ast.expr, value: Any, env: Env) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    assert isinstance(target, ast.Tuple | ast.List)  # the checker allows nothing else
    values = list(value)
    if len(values) != len(target.elts):
        raise ValueError(f"cannot unpack {len(values)} values into {len(target.elts)} names")
    for element, item in zip(target.elts, values, strict=True):
        _assign(element, item, env)


# -- one function per node type ---------------------------------------------------------------


def _name(m: Machine, node: ast.Name, env: Env) -> Any:
    return env[node.id] if node.id in env else BUILTINS[node.id]


def _boolop(m: Machine, node: ast.BoolOp, env: Env) -> Any:
    want = isinstance(node.op, ast.Or)  # `or` stops at the first truthy operand, `and` at a falsy
    value: Any = None
    for operand in node.values:
        value = m.eval(operand, env)
        if bool(value) is want:
            return value
    return value


def _compare(m: Machine, node: ast.Compare, env: Env) -> Any:
    left = m.eval(node.left, env)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = m.eval(comparator, env)
        if type(op) in _HASHED and isinstance(right, dict | set | frozenset):
            m.touch(left)  # a hash lookup reads the key, not the container
        else:
            m.touch(left, right)  # `big == big`, `x in big_list` read whole values
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True


def _dict(m: Machine, node: ast.Dict, env: Env) -> Any:
    result: dict[Any, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:  # {**other}
            other = m.eval(value, env)
            m.charge(other)
            result.update(other)
        else:
            result[m.eval(key, env)] = m.eval(value, env)
    return result


def _slice(m: Machine, node: ast.Slice, env: Env) -> Any:
    parts = (node.lower, node.upper, node.step)
    return slice(*(None if p is None else m.eval(p, env) for p in parts))


def _subscript(m: Machine, node: ast.Subscript, env: Env) -> Any:
    value = m.eval(node.value, env)[m.eval(node.slice, env)]
    return m.created(value) if isinstance(node.slice, ast.Slice) else value


def _joinedstr(m: Machine, node: ast.JoinedStr, env: Env) -> Any:
    parts: list[str] = []
    length = 0
    for value in node.values:
        # The parts are constants or _formatted's strings, whose size is already checked; the
        # sum is checked before each append, so the joined text is never built too large.
        part = m.eval(value, env)
        text = part if isinstance(part, str) else str(part)
        length += len(text)
        guard_length(m, length)
        parts.append(text)
    return m.created("".join(parts))


def _formatted(m: Machine, node: ast.FormattedValue, env: Env) -> Any:
    value = m.eval(node.value, env)
    spec = "" if node.format_spec is None else m.eval(node.format_spec, env)
    guard_format_spec(spec)
    convert: Callable[[Any], str] | None = _CONVERSIONS.get(node.conversion)
    if convert is not None or not isinstance(value, str | int | float):
        # str()/repr() of a container is built whole: check its size before building it.
        guard_rendered(m, value)
    if convert is not None:
        value = convert(value)
    return m.created(format(value, spec))


def _call(m: Machine, node: ast.Call, env: Env) -> Any:
    if isinstance(node.func, ast.Attribute):
        receiver = m.eval(node.func.value, env)
        args, kwargs = _arguments(m, node, env)
        return m.method(receiver, node.func.attr, args, kwargs)
    callee = m.eval(node.func, env)
    args, kwargs = _arguments(m, node, env)
    return m.call(callee, args, kwargs)


def _arguments(m: Machine, node: ast.Call, env: Env) -> tuple[list[Any], dict[str, Any]]:
    args = m.items(node.args, env)
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        value = m.eval(keyword.value, env)
        if keyword.arg is None:  # f(**mapping)
            kwargs.update(value)
        else:
            kwargs[keyword.arg] = value
    return args, kwargs


_HANDLERS: dict[type[ast.AST], Callable[[Machine, Any, Env], Any]] = {
    ast.Constant: lambda m, node, env: node.value,
    ast.Name: _name,
    ast.Lambda: Closure,
    ast.BinOp: lambda m, node, env: m.binary(
        type(node.op), m.eval(node.left, env), m.eval(node.right, env)
    ),
    ast.UnaryOp: lambda m, node, env: _UNARY[type(node.op)](m.eval(node.operand, env)),
    ast.BoolOp: _boolop,
    ast.Compare: _compare,
    ast.IfExp: lambda m, node, env: m.eval(
        node.body if m.eval(node.test, env) else node.orelse, env
    ),
    ast.List: lambda m, node, env: m.items(node.elts, env),
    ast.Tuple: lambda m, node, env: tuple(m.items(node.elts, env)),
    ast.Set: lambda m, node, env: set(m.items(node.elts, env)),
    ast.Dict: _dict,
    ast.Subscript: _subscript,
    ast.Slice: _slice,
    # A comprehension gets its own scope (a copy of env), as in Python.
    ast.ListComp: lambda m, node, env: [
        m.eval(node.elt, scope) for scope in m.bindings(node.generators, dict(env))
    ],
    ast.SetComp: lambda m, node, env: {
        m.eval(node.elt, scope) for scope in m.bindings(node.generators, dict(env))
    },
    ast.DictComp: lambda m, node, env: {
        m.eval(node.key, scope): m.eval(node.value, scope)
        for scope in m.bindings(node.generators, dict(env))
    },
    ast.GeneratorExp: lambda m, node, env: (
        m.eval(node.elt, scope) for scope in m.bindings(node.generators, dict(env))
    ),
    ast.JoinedStr: _joinedstr,
    ast.FormattedValue: _formatted,
    ast.Call: _call,
}
