"""What a ``python_lambda`` may call, and the limits on what it may build.

Used by the interpreter in :mod:`keel.expressions.lambda_machine`; the public entry point is
:func:`keel.expressions.lambdas.compile_lambda`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from keel.expressions.limits import ITEMS_PER_UNIT
from keel.expressions.sizes import rendered_length

if TYPE_CHECKING:
    from keel.expressions.lambda_machine import Machine

#: Bits of a created integer (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
#: Nested lambda calls (a lambda calling a lambda ...).
MAX_CALL_DEPTH = 32
#: Largest width or precision in a format spec (``f"{x:>10}"``, ``"%5d" % x``).
MAX_FORMAT_NUMBER = 10_000

_STR_METHODS = frozenset(
    [
        "capitalize", "casefold", "center", "count", "endswith", "find", "index", "isalnum",
        "isalpha", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle",
        "isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix",
        "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip",
        "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill",
    ]
)  # fmt: skip
SET_METHODS = frozenset(
    [
        "copy", "difference", "intersection", "isdisjoint", "issubset", "issuperset",
        "symmetric_difference", "union",
    ]
)  # fmt: skip
#: Methods a lambda may call, per value type. None of them mutates its receiver, and
#: ``str.format`` is absent on purpose: its ``{0.__class__}`` fields reach attributes.
METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    dict: frozenset({"copy", "get", "items", "keys", "values"}),
    list: frozenset({"copy", "count", "index"}),
    tuple: frozenset({"count", "index"}),
    set: SET_METHODS,
    frozenset: SET_METHODS,
}
#: Every method name a lambda may call on some type.
ANY_METHOD: frozenset[str] = frozenset().union(*METHODS.values())

# Width and precision of a %-format conversion, e.g. "%-10.3f", "%*d" or "%(key)9s".
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SEQUENCES = (str, bytes, list, tuple)


class Stop(Exception):  # noqa: N818 - a signal, turned into a LambdaError by the caller
    """A refusal or limit hit; the message says what is wrong, without quoting the lambda."""


class Builtin:
    """A whitelisted builtin; ``impl`` takes the running machine first, to charge its work."""

    def __init__(self, name: str, impl: Callable[..., Any]) -> None:
        self.name = name
        self.impl = impl

    def __repr__(self) -> str:
        return f"<builtin {self.name}>"


# -- size guards ------------------------------------------------------------------------------


def guard_length(machine: Machine, length: int) -> None:
    """Refuse building a string or collection of ``length`` characters or items."""
    limit = machine.limits.max_length
    if length > limit:
        raise Stop(
            f"result too large ({length:,} items or characters; limit {limit:,}, "
            "KEEL_MAX_VALUE_LENGTH)"
        )


def guard_format_spec(spec: str) -> None:
    """Refuse a format spec whose width or precision would build a huge string."""
    for number in re.findall(r"\d+", spec):
        _guard_format_number(int(number))


def _guard_format_number(number: int) -> None:
    if number > MAX_FORMAT_NUMBER:
        raise Stop(f"result too large (format width {number:,}; limit {MAX_FORMAT_NUMBER:,})")


def _guard_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise Stop(f"result too large (an integer of about {bits:,} bits; limit {MAX_INT_BITS:,})")


def guard_rendered(machine: Machine, value: Any, extra: int = 0) -> None:
    """Refuse turning ``value`` into text (``str``, ``repr``, f-strings) when it would be huge.

    The length is estimated by walking ``value`` (each item walked is charged as work) and the
    walk stops as soon as the estimate passes the limit, so a refusal costs little.
    """
    limit = machine.limits.max_length
    length = rendered_length(value, limit - extra, machine.tick) + extra
    if length > limit:
        raise Stop(
            f"result too large (text of more than {limit:,} characters; KEEL_MAX_VALUE_LENGTH)"
        )


def guard_binary(machine: Machine, op: type[ast.operator], left: Any, right: Any) -> None:
    """Refuse an operation whose result would be too large, before building it."""
    if op is ast.Mult:
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            guard_length(machine, len(left) * right)
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            guard_length(machine, len(right) * left)
        elif isinstance(left, int) and isinstance(right, int):
            _guard_bits(left.bit_length() + right.bit_length())
    elif op is ast.Add and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        guard_length(machine, len(left) + len(right))
    elif op is ast.Pow and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1:
            _guard_bits(left.bit_length() * right)
    elif op is ast.LShift and isinstance(left, int) and isinstance(right, int):
        if left:
            _guard_bits(left.bit_length() + right)
    elif op is ast.Mod and isinstance(left, str | bytes):
        _guard_percent(machine, left, right)


def _guard_percent(machine: Machine, template: str | bytes, args: Any) -> None:
    """Check ``template % args``: every width, and the text all conversions may produce."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    conversions, widths = 0, 0
    for match in _PERCENT_SPEC.finditer(text):
        conversions += 1
        for number in match.groups():
            if number == "*":
                raise Stop("'*' in a %-format is not allowed")
            if number is not None:
                _guard_format_number(int(number))
                widths += int(number)
    if not conversions:
        return
    # Any conversion may render any argument (`%(a)s` repeats a mapping's value), so the largest
    # one rendered once per conversion bounds the result.
    if isinstance(args, tuple):
        parts: list[Any] = list(args)
    elif isinstance(args, Mapping):
        parts = list(args.values())
    else:
        parts = [args]
    limit = machine.limits.max_length
    widest = max((rendered_length(p, limit, machine.tick) for p in parts), default=0)
    guard_length(machine, len(text) + widths + conversions * widest)


def guard_str_method(machine: Machine, text: str, name: str, args: list[Any]) -> list[Any]:
    """Check a str method call that could build a huge string; return the arguments to use."""
    if name == "join" and args:
        parts = list(machine.eager(args[0]))
        strings = [p for p in parts if isinstance(p, str)]
        guard_length(machine, sum(map(len, strings)) + len(text) * max(len(parts) - 1, 0))
        return [parts, *args[1:]]
    if name in {"center", "ljust", "rjust", "zfill"} and args and isinstance(args[0], int):
        guard_length(machine, args[0])
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], args[1]
        if isinstance(new, str) and len(new) > len(old):
            count = text.count(old)
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                count = min(count, args[2])
            guard_length(machine, len(text) + count * (len(new) - len(old)))
    if name in {"split", "rsplit"} and args and isinstance(args[0], str) and args[0]:
        # Every part is a new string object (about 50 bytes even when empty): pay for each.
        machine.afford(text.count(args[0]) + 1)
    return args


# -- builtins ---------------------------------------------------------------------------------
# Each consumes its iterable through the machine, so that every item costs a step.


def _collect(kind: Callable[[Iterable[Any]], Any]) -> Callable[..., Any]:
    def build(machine: Machine, iterable: Iterable[Any] = (), /) -> Any:
        return kind(machine.eager(iterable))

    return build


def _dict(machine: Machine, *args: Any, **kwargs: Any) -> dict[Any, Any]:
    if args and isinstance(args[0], Mapping):
        machine.charge(args[0])
        return dict(args[0], **kwargs)
    return dict(*(machine.eager(a) for a in args), **kwargs)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def choose(machine: Machine, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return pick(list(machine.eager(args[0])), **kwargs)
        return pick(*args, **kwargs)

    return choose


def _sum(machine: Machine, iterable: Iterable[Any], /, start: Any = 0) -> Any:
    total = start
    for item in machine.eager(iterable):
        total = machine.binary(ast.Add, total, item)
    return total


def _all(machine: Machine, iterable: Iterable[Any], /) -> bool:
    return all(machine.lazy(iterable))


def _any(machine: Machine, iterable: Iterable[Any], /) -> bool:
    return any(machine.lazy(iterable))


def _enumerate(machine: Machine, iterable: Iterable[Any], /, start: int = 0) -> Any:
    return enumerate(machine.lazy(iterable), start)


def _zip(machine: Machine, *iterables: Iterable[Any], strict: bool = False) -> Any:
    return zip(*(machine.lazy(i) for i in iterables), strict=strict)


def _str(machine: Machine, *args: Any, **kwargs: Any) -> str:
    if len(args) == 1 and not kwargs and not isinstance(args[0], str | int | float):
        guard_rendered(machine, args[0])  # a container's text is built whole: check it first
    return machine.created(str(*args, **kwargs))  # type: ignore[no-any-return]


def _round(machine: Machine, number: Any, ndigits: Any = None, /) -> Any:
    # round(10**30000, -10**9) computes 10**(10**9) first.
    if isinstance(ndigits, int) and abs(ndigits) > MAX_FORMAT_NUMBER:
        raise Stop(f"round: ndigits {ndigits:,} is out of range (limit {MAX_FORMAT_NUMBER:,})")
    return round(number) if ndigits is None else round(number, ndigits)


def _sorted(machine: Machine, iterable: Iterable[Any], /, **kwargs: Any) -> list[Any]:
    items = list(machine.eager(iterable))
    # Sorting compares about n log n pairs: pay for them beyond the one step per item.
    machine.tick(len(items) * max(len(items).bit_length() - 1, 0) // ITEMS_PER_UNIT)
    return sorted(items, **kwargs)


def _plain(impl: Callable[..., Any]) -> Callable[..., Any]:
    # Builtins that build nothing larger than their input (range and reversed stay lazy).
    def call(machine: Machine, *args: Any, **kwargs: Any) -> Any:
        return impl(*args, **kwargs)

    return call


_IMPLS: dict[str, Callable[..., Any]] = {
    "abs": _plain(abs),
    "all": _all,
    "any": _any,
    "bool": _plain(bool),
    "chr": _plain(chr),
    "dict": _dict,
    "enumerate": _enumerate,
    "float": _plain(float),
    "frozenset": _collect(frozenset),
    "int": _plain(int),
    "len": _plain(len),
    "list": _collect(list),
    "max": _extreme(max),
    "min": _extreme(min),
    "ord": _plain(ord),
    "range": _plain(range),
    "reversed": _plain(reversed),
    "round": _round,
    "set": _collect(set),
    "sorted": _sorted,
    "str": _str,
    "sum": _sum,
    "tuple": _collect(tuple),
    "zip": _zip,
}
#: The builtins a lambda may name, by name.
BUILTINS: dict[str, Builtin] = {name: Builtin(name, impl) for name, impl in _IMPLS.items()}
