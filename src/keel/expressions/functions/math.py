"""FN arithmetic functions: add, sub, mul, div, mod, pow, sum, min and max."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_list, expect_number, type_name

Number = int | float

#: Largest integer exponent ``pow`` accepts for an integer base, so a call cannot hang the run.
MAX_EXPONENT = 10_000
#: Bits of an integer ``pow`` and ``mul`` may build (about 30,000 decimal digits): nesting
#: ``pow(pow(10, 10000), 10000)`` would otherwise compute for minutes.
MAX_INT_BITS = 100_000


def _guard_bits(fname: str, bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ValueError(
            f"{fname}: the result would have about {bits:,} bits, more than {MAX_INT_BITS:,}"
        )


@fn("add")
def add(a: Any, b: Any) -> Any:
    """Add two numbers (or concatenate two strings or two lists)."""
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return expect_number("add", a) + expect_number("add", b)


@fn("sub")
def sub(a: Number, b: Number) -> Number:
    """Subtract ``b`` from ``a``."""
    return expect_number("sub", a) - expect_number("sub", b)


@fn("mul")
def mul(a: Number, b: Number) -> Number:
    """Multiply two numbers."""
    left, right = expect_number("mul", a), expect_number("mul", b)
    if isinstance(left, int) and isinstance(right, int):
        _guard_bits("mul", left.bit_length() + right.bit_length())
    return left * right


@fn("div")
def div(a: Number, b: Number) -> float:
    """Divide ``a`` by ``b`` (true division; dividing by zero is an error)."""
    if expect_number("div", b) == 0:
        raise ZeroDivisionError(f"div: cannot divide {a} by zero")
    return expect_number("div", a) / b


@fn("mod")
def mod(a: Number, b: Number) -> Number:
    """Return the remainder of ``a`` divided by ``b`` (zero is an error)."""
    if expect_number("mod", b) == 0:
        raise ZeroDivisionError(f"mod: cannot take {a} modulo zero")
    return expect_number("mod", a) % b


@fn("pow")
def pow_(a: Number, b: Number) -> Number:
    """Raise ``a`` to the power ``b``."""
    base, exponent = expect_number("pow", a), expect_number("pow", b)
    if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT and abs(base) > 1:
        raise ValueError(f"pow: exponent {exponent} is larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _guard_bits("pow", base.bit_length() * exponent)
    if base == 0 and exponent < 0:
        raise ZeroDivisionError("pow: cannot raise zero to a negative power")
    try:
        result: Number = base**exponent
    except OverflowError:
        raise ValueError(f"pow: {base} ** {exponent} is too large") from None
    if isinstance(result, complex):
        raise ValueError(f"pow: {base} ** {exponent} is not a real number")
    return result


@fn("sum")
def sum_(items: list[Number], start: Number = 0) -> Number:
    """Add up the numbers of a list (plus ``start``)."""
    total = expect_number("sum", start, "a number start")
    for item in expect_list("sum", items, "a list of numbers"):
        total += expect_number("sum", item, "a list of numbers")
    return total


def _extreme(fname: str, pick: Callable[[Any, Any], bool], a: Any, rest: tuple[Any, ...]) -> Any:
    values = list(rest) and [a, *rest]
    if not values:
        values = expect_list(fname, a, "two values or one list")
        if not values:
            raise ValueError(f"{fname} of an empty list")
    best = values[0]
    for value in values[1:]:
        try:
            if pick(value, best):
                best = value
        except TypeError:
            raise TypeError(
                f"{fname} cannot compare {type_name(value)} with {type_name(best)}"
            ) from None
    return best


@fn("min")
def min_(a: Any, *rest: Any) -> Any:
    """Return the smallest of the arguments, or of one list (``min(a, b)``, ``min([1, 3])``)."""
    return _extreme("min", operator.lt, a, rest)


@fn("max")
def max_(a: Any, *rest: Any) -> Any:
    """Return the largest of the arguments, or of one list (``max(a, b)``, ``max([1, 3])``)."""
    return _extreme("max", operator.gt, a, rest)
