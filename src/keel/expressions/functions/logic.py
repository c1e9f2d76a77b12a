"""FN logic and comparison functions: ``and``, ``or``, ``not``, equality, ordering, null checks."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import type_name


@fn("and")
def and_(a: Any, b: Any, *more: Any) -> bool:
    """Tell whether every argument is truthy."""
    return all((a, b, *more))


@fn("or")
def or_(a: Any, b: Any, *more: Any) -> bool:
    """Tell whether at least one argument is truthy."""
    return any((a, b, *more))


@fn("not")
def not_(x: Any) -> bool:
    """Negate a value's truthiness."""
    return not x


@fn("is_equal")
def is_equal(a: Any, b: Any) -> bool:
    """Tell whether two values are equal."""
    return bool(a == b)


@fn("not_equal", "is_not_equal")
def not_equal(a: Any, b: Any) -> bool:
    """Tell whether two values differ."""
    return bool(a != b)


def _order(fname: str, op: Callable[[Any, Any], Any], a: Any, b: Any) -> bool:
    try:
        return bool(op(a, b))
    except TypeError:
        raise TypeError(f"{fname} cannot compare {type_name(a)} with {type_name(b)}") from None


@fn("greater_than")
def greater_than(a: Any, b: Any) -> bool:
    """Tell whether ``a > b``."""
    return _order("greater_than", operator.gt, a, b)


@fn("greater_than_or_equal")
def greater_than_or_equal(a: Any, b: Any) -> bool:
    """Tell whether ``a >= b``."""
    return _order("greater_than_or_equal", operator.ge, a, b)


@fn("less_than")
def less_than(a: Any, b: Any) -> bool:
    """Tell whether ``a < b``."""
    return _order("less_than", operator.lt, a, b)


@fn("less_than_or_equal")
def less_than_or_equal(a: Any, b: Any) -> bool:
    """Tell whether ``a <= b``."""
    return _order("less_than_or_equal", operator.le, a, b)


@fn("is_null")
def is_null(x: Any) -> bool:
    """Tell whether a value is None."""
    return x is None


@fn("not_null", "is_not_null")
def not_null(x: Any) -> bool:
    """Tell whether a value is not None."""
    return x is not None
