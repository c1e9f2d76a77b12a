"""The type language of ``entrypoint.expects``: parsing type strings and checking values.

Types: ``int``, ``float``, ``str``, ``bool``, ``datetime``, ``duration``, ``any`` (or ``Any``),
``None``, ``list[T]`` and ``dict[K, V]`` (or bare ``list``, ``dict``), unions ``T | U`` and
``enum["a", "b"]``; nested freely, whitespace anywhere between tokens. :func:`parse_type` is a
small recursive-descent parser; :func:`mismatches` checks a value (JSON data) against a type.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from keel.dsl.diagnostics import closest
from keel.dsl.duration import parse_duration
from keel.dsl.values import describe_value

#: The scalar type names, with ``Any`` read as ``any``.
SCALARS = frozenset({"int", "float", "str", "bool", "datetime", "duration", "any", "None"})
_ALIASES = {"Any": "any"}
# Names people reach for from JSON Schema or other languages, for "did you mean" hints.
_HINTS = {
    "integer": "int",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "object": "dict",
    "array": "list",
    "null": "None",
    "none": "None",
}
_KNOWN = ["int", "float", "str", "bool", "datetime", "duration", "any", "Any", "None", "list"]
_KNOWN += ["dict", "enum"]
_TOKEN = re.compile(
    r"""\s*(?:(?P<name>[A-Za-z_]\w*)|(?P<punct>[\[\],|])|(?P<string>'[^']*'|"[^"]*"))"""
)
# Past this many bad items in one list or dict, the rest are summarised in one message.
_MAX_ITEM_MESSAGES = 3


class TypeSyntaxError(ValueError):
    """A type string of ``expects`` does not parse or names an unknown type."""


@dataclass(frozen=True)
class TypeSpec:
    """Base of the parsed types."""


@dataclass(frozen=True)
class Scalar(TypeSpec):
    """A scalar type, by name (one of :data:`SCALARS`)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListOf(TypeSpec):
    """``list[item]``; a bare ``list`` is ``list[any]``."""

    item: TypeSpec

    def __str__(self) -> str:
        return f"list[{self.item}]"


@dataclass(frozen=True)
class DictOf(TypeSpec):
    """``dict[key, value]``; a bare ``dict`` is ``dict[str, any]``."""

    key: TypeSpec
    value: TypeSpec

    def __str__(self) -> str:
        return f"dict[{self.key}, {self.value}]"


@dataclass(frozen=True)
class UnionOf(TypeSpec):
    """``T | U | ...``: a value of any of the options."""

    options: tuple[TypeSpec, ...]

    def __str__(self) -> str:
        return " | ".join(str(option) for option in self.options)


@dataclass(frozen=True)
class EnumOf(TypeSpec):
    """``enum["a", "b"]``: one of the given strings (compared exactly)."""

    values: tuple[str, ...]

    def __str__(self) -> str:
        return "enum[" + ", ".join(f'"{value}"' for value in self.values) + "]"


ANY = Scalar("any")


@functools.lru_cache(maxsize=512)
def parse_type(text: str) -> TypeSpec:
    """Parse a type string of the ``expects`` type language.

    Raises:
        TypeSyntaxError: The string does not parse, or names an unknown type.
    """
    return _Parser(text).parse()


def accepts_none(spec: TypeSpec) -> bool:
    """Return whether ``None`` is a value of ``spec``."""
    return not any(True for _ in mismatches(spec, None))


def mismatches(spec: TypeSpec, value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path inside the value, what is wrong)`` for each part of ``value`` not of ``spec``.

    The path is ``""`` for the value itself, else like ``[0].name``; an empty result means the
    value conforms.
    """
    if isinstance(spec, UnionOf):
        if not any(_conforms(option, value) for option in spec.options):
            yield path, f"expected {spec}, got {describe_value(value)}"
    elif isinstance(spec, ListOf):
        if not isinstance(value, list | tuple):
            yield path, f"expected {spec}, got {describe_value(value)}"
            return
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
        yield from _capped(spec.item, items, path)
    elif isinstance(spec, DictOf):
        if not isinstance(value, Mapping):
            yield path, f"expected {spec}, got {describe_value(value)}"
            return
        for key in value:
            for _, message in mismatches(spec.key, key):
                yield _join(path, key), f"key {message}"
        entries = ((_join(path, key), item) for key, item in value.items())
        yield from _capped(spec.value, entries, path)
    elif isinstance(spec, EnumOf):
        if value not in spec.values or not isinstance(value, str):
            yield (
                path,
                f"expected one of {', '.join(map(repr, spec.values))}, got "
                + (describe_value(value)),
            )
    elif isinstance(spec, Scalar) and not _scalar_conforms(spec.name, value):
        yield path, f"expected {spec}, got {describe_value(value)}"


def _conforms(spec: TypeSpec, value: object) -> bool:
    return next(mismatches(spec, value), None) is None


def _capped(
    spec: TypeSpec, items: Iterator[tuple[str, object]], path: str
) -> Iterator[tuple[str, str]]:
    bad = 0
    for item_path, item in items:
        found = list(mismatches(spec, item, item_path))
        if found:
            bad += 1
            if bad <= _MAX_ITEM_MESSAGES:
                yield from found
    if bad > _MAX_ITEM_MESSAGES:
        yield path, f"and {bad - _MAX_ITEM_MESSAGES} more item(s) that are not {spec}"


def _join(path: str, key: object) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _scalar_conforms(name: str, value: object) -> bool:
    if name == "any":
        return True
    if name == "None":
        return value is None
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "str":
        return isinstance(value, str)
    if name == "datetime":
        return isinstance(value, date) or (isinstance(value, str) and _is_iso_datetime(value))
    if name == "duration":
        return parse_duration(value) is not None
    return False


def _is_iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


class _Parser:
    """Recursive-descent parser over the tokens of one type string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                bad = text[position:].strip()[:1]
                raise TypeSyntaxError(f"unexpected {bad!r} in type '{text}'")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0

    def parse(self) -> TypeSpec:
        if not self.tokens:
            raise TypeSyntaxError("empty type; write a type such as 'str' or 'list[int]'")
        spec = self.union()
        if self.index < len(self.tokens):
            raise self.error("unexpected")
        return spec

    def union(self) -> TypeSpec:
        options = [self.primary()]
        while self.accept("|"):
            options.append(self.primary())
        return options[0] if len(options) == 1 else UnionOf(tuple(options))

    def primary(self) -> TypeSpec:
        kind, value, _ = self.peek()
        if kind != "name":
            raise self.error("expected a type name at")
        self.index += 1
        name = _ALIASES.get(value, value)
        if name == "list":
            if not self.accept("["):
                return ListOf(ANY)
            item = self.union()
            self.expect("]")
            return ListOf(item)
        if name == "dict":
            if not self.accept("["):
                return DictOf(Scalar("str"), ANY)
            key = self.union()
            self.expect(",")
            value_spec = self.union()
            self.expect("]")
            return DictOf(key, value_spec)
        if name == "enum":
            return self.enum()
        if name not in SCALARS:
            raise TypeSyntaxError(_unknown(value, self.text))
        if self.peek()[1] == "[":
            raise TypeSyntaxError(f"'{value}' takes no parameters, in type '{self.text}'")
        return Scalar(name)

    def enum(self) -> TypeSpec:
        self.expect("[")
        values: list[str] = []
        while True:
            kind, value, _ = self.peek()
            if kind != "string":
                raise self.error("expected a quoted enum value at")
            self.index += 1
            values.append(value[1:-1])
            if not self.accept(","):
                break
            if self.peek()[1] == "]":
                break
        self.expect("]")
        return EnumOf(tuple(values))

    def peek(self) -> tuple[str, str, int]:
        if self.index < len(self.tokens):
            return self.tokens[self.index]
        return ("end", "", len(self.text))

    def accept(self, punct: str) -> bool:
        if self.peek()[1] == punct and self.peek()[0] == "punct":
            self.index += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.accept(punct):
            raise self.error(f"expected '{punct}' at")

    def error(self, what: str) -> TypeSyntaxError:
        kind, value, position = self.peek()
        found = "the end" if kind == "end" else f"'{value}'"
        return TypeSyntaxError(f"{what} {found} (position {position + 1}) in type '{self.text}'")


def _unknown(name: str, text: str) -> str:
    where = "" if name == text.strip() else f" in '{text}'"
    suggestion = _HINTS.get(name) or closest(name, _KNOWN)
    if suggestion:
        return f"unknown type '{name}'{where}; did you mean '{suggestion}'?"
    return f"unknown type '{name}'{where}; known types: {', '.join(_KNOWN)}"
