"""The expects type language: parsing every construct, and checking values."""

from __future__ import annotations

import pytest

from keel.dsl.typespec import (
    DictOf,
    EnumOf,
    ListOf,
    Scalar,
    TypeSyntaxError,
    UnionOf,
    accepts_none,
    mismatches,
    parse_type,
)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("int", Scalar("int")),
        ("float", Scalar("float")),
        ("str", Scalar("str")),
        ("bool", Scalar("bool")),
        ("datetime", Scalar("datetime")),
        ("duration", Scalar("duration")),
        ("any", Scalar("any")),
        ("Any", Scalar("any")),
        ("None", Scalar("None")),
        ("list", ListOf(Scalar("any"))),
        ("dict", DictOf(Scalar("str"), Scalar("any"))),
        ("list[int]", ListOf(Scalar("int"))),
        ("dict[str, int]", DictOf(Scalar("str"), Scalar("int"))),
        ("str | None", UnionOf((Scalar("str"), Scalar("None")))),
        ('enum["a", "b"]', EnumOf(("a", "b"))),
        ("enum['low','high',]", EnumOf(("low", "high"))),
        (
            "  list[ dict[ str ,list[int|None] ] ] | str ",
            UnionOf(
                (
                    ListOf(DictOf(Scalar("str"), ListOf(UnionOf((Scalar("int"), Scalar("None")))))),
                    Scalar("str"),
                )
            ),
        ),
    ],
)
def test_parse(text: str, spec: object) -> None:
    assert parse_type(text) == spec


def test_str_renders_canonical_text() -> None:
    assert str(parse_type("list[ dict[str,int|None] ]")) == "list[dict[str, int | None]]"
    assert str(parse_type("enum['a']")) == 'enum["a"]'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("integer", "unknown type 'integer'; did you mean 'int'?"),
        ("list[strng]", "unknown type 'strng' in 'list[strng]'; did you mean 'str'?"),
        ("widget", "unknown type 'widget'; known types: int, float"),
        ("list[int", "expected ']' at the end (position 9) in type 'list[int'"),
        ("dict[str]", "expected ',' at ']' (position 9)"),
        ("str |", "expected a type name at the end"),
        ("int[str]", "'int' takes no parameters"),
        ("enum[]", "expected a quoted enum value at ']'"),
        ("enum[a]", "expected a quoted enum value at 'a'"),
        ("", "empty type"),
        ("int int", "unexpected 'int' (position 5)"),
        ("str $", "unexpected '$'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TypeSyntaxError) as info:
        parse_type(text)
    assert message in str(info.value)


def _check(text: str, value: object) -> list[tuple[str, str]]:
    return list(mismatches(parse_type(text), value))


@pytest.mark.parametrize(
    ("text", "good", "bad"),
    [
        ("int", [0, -3, 10**20], [True, 1.5, "1", None]),
        ("float", [1, 1.5], [True, "1.5", None]),
        ("str", ["", "x"], [1, None, ["x"]]),
        ("bool", [True, False], [0, 1, "true"]),
        ("None", [None], [0, ""]),
        ("any", [None, 1, "x", [1], {"a": 1}], []),
        (
            "datetime",
            ["2026-12-01T09:00:00Z", "2026-12-01", "2026-12-01 09:00:00+02:00"],
            ["tomorrow", 5],
        ),
        ("duration", [5, 1.5, "15m", "1h30m", "PT1H", "90"], ["soon", True, -1]),
        ("list[int]", [[], [1, 2]], [[1, "2"], "12", {"a": 1}]),
        ("dict[str, int]", [{}, {"a": 1}], [{"a": "1"}, [1]]),
        ("int | str", [1, "x"], [None, 1.5]),
        ('enum["a", "b"]', ["a", "b"], ["c", "A", 1, None]),
    ],
)
def test_values(text: str, good: list[object], bad: list[object]) -> None:
    for value in good:
        assert _check(text, value) == [], value
    for value in bad:
        assert _check(text, value) != [], value


def test_mismatch_paths_and_messages() -> None:
    assert _check("int", "abc") == [("", "expected int, got str 'abc'")]
    assert _check("list[int]", [1, "x"]) == [("[1]", "expected int, got str 'x'")]
    assert _check("dict[str, list[int]]", {"a b": [1, None]}) == [
        ("['a b'][1]", "expected int, got None")
    ]
    assert _check("dict[str, int]", {"ok": "no"}) == [("ok", "expected int, got str 'no'")]
    assert _check("int | None", "x") == [("", "expected int | None, got str 'x'")]
    assert _check('enum["a","b"]', "c") == [("", "expected one of 'a', 'b', got str 'c'")]


def test_many_bad_items_are_summarised() -> None:
    found = _check("list[int]", ["a", "b", "c", "d", "e"])
    assert len(found) == 4
    assert found[-1] == ("", "and 2 more item(s) that are not int")


def test_accepts_none() -> None:
    assert accepts_none(parse_type("str | None"))
    assert accepts_none(parse_type("any"))
    assert not accepts_none(parse_type("str"))
