"""Argument checks shared by the FN library, so every function words its type errors alike.

Messages name the function and what it expected, e.g. ``lowercase expects a string, got int``.
"""

from __future__ import annotations

from typing import Any

from keel.expressions.limits import current


def type_name(value: Any) -> str:
    """Name the type of ``value`` for an error message (``int``, ``list``, ``None`` ...)."""
    name = type(value).__name__
    return "None" if name == "NoneType" else name


def expect_str(fname: str, value: Any, what: str = "a string") -> str:
    """Return ``value`` if it is a string, else raise a TypeError naming ``fname``."""
    if not isinstance(value, str):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return value


def expect_int(fname: str, value: Any, what: str = "an integer") -> int:
    """Return ``value`` if it is an integer (not a bool), else raise a TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return value


def expect_number(fname: str, value: Any, what: str = "a number") -> int | float:
    """Return ``value`` if it is an int or a float (not a bool), else raise a TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return value


def expect_list(fname: str, value: Any, what: str = "a list") -> list[Any]:
    """Return ``value`` as a list if it is a list or tuple, else raise a TypeError."""
    if not isinstance(value, list | tuple):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return list(value)


def expect_dict(fname: str, value: Any, what: str = "an object") -> dict[Any, Any]:
    """Return ``value`` if it is a dict, else raise a TypeError naming ``fname``."""
    if not isinstance(value, dict):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return value


def scalar_text(fname: str, value: Any) -> str:
    """Render a string, number or boolean as text (as Python prints it); refuse anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"{fname} expects strings (or numbers), got {type_name(value)}")


def expect_bool(fname: str, value: Any, what: str = "a boolean") -> bool:
    """Return ``value`` if it is a bool, else raise a TypeError naming ``fname``."""
    if not isinstance(value, bool):
        raise TypeError(f"{fname} expects {what}, got {type_name(value)}")
    return value


def expect_size(fname: str, length: int) -> None:
    """Refuse building a string or list of ``length`` characters or items past the limit.

    Called before building, so a refused call allocates nothing (``KEEL_MAX_VALUE_LENGTH``).
    """
    limit = current().max_length
    if length > limit:
        raise ValueError(
            f"{fname}: the result would have {length:,} characters or items, more than "
            f"{limit:,} (KEEL_MAX_VALUE_LENGTH)"
        )
