"""Evaluation semantics: operators, short-circuits, FN calls, broadcasting, errors, bounds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from keel.errors import ExpressionError, PathMissError
from keel.expressions import evaluate, evaluate_expression
from keel.expressions.clock import CLOCK, now_utc
from keel.expressions.functions import FUNCTIONS, Function

CONTEXT: dict[str, Any] = {
    "TRIGGER": {
        "a": 1,
        "name": "alice",
        "csv": "x,y,z",
        "items": [1, 2, 3],
        "flag": False,
        "empty": "",
        "nested": {"k": "v"},
    },
    "ACTIONS": {
        "fetch": {"result": {"status": 200, "rows": [{"id": 7}]}, "result_typename": "dict"}
    },
    "var": {"i": 1, "word": "hi"},
}

# Stand-ins with the spec's behaviour, used only when the FN library does not define them yet.
STANDINS: dict[str, Function] = {
    "length": Function("length", len, 1, 1),
    "split": Function("split", lambda s, sep=None: s.split(sep), 1, 2),
    "uppercase": Function("uppercase", lambda s: s.upper(), 1, 1),
    "add": Function("add", lambda a, b: a + b, 2, 2),
    "concat": Function("concat", lambda *s: "".join(s), 0, None),
    "max": Function("max", max, 1, None),
}


@pytest.fixture(autouse=True)
def functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make sure the FN functions these tests use exist, and add two test-only ones."""
    for name, function in STANDINS.items():
        if name not in FUNCTIONS:
            monkeypatch.setitem(FUNCTIONS, name, function)

    def boom(x: Any) -> Any:
        raise ValueError(f"cannot boom {x!r}")

    monkeypatch.setitem(FUNCTIONS, "boom", Function("boom", boom, 1, 1))
    monkeypatch.setitem(FUNCTIONS, "clock_now", Function("clock_now", now_utc, 0, 0))
    yield


def ev(expr: str, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return evaluate_expression(expr, CONTEXT if context is None else context, **kwargs)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2", 3),
        ("'a' + 'b'", "ab"),
        ("[1] + [2]", [1, 2]),
        ("5 - 7", -2),
        ("2 * 3", 6),
        ("'ab' * 2", "abab"),
        ("2 * 'ab'", "abab"),
        ("[0] * 3", [0, 0, 0]),
        ("7 / 2", 3.5),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("-TRIGGER.a", -1),
        ("+TRIGGER.a", 1),
        ("1 == 1.0", True),
        ("'a' != 'b'", True),
        ("2 > 1", True),
        ("2 >= 2", True),
        ("1 < 2 < 3", True),
        ("3 > 2 > 2", False),
        ("1 <= 0", False),
        ("[1, 2] == [1, 2]", True),
        ("2 in TRIGGER.items", True),
        ("'li' in TRIGGER.name", True),
        ("'k' in TRIGGER.nested", True),
        ("9 not in TRIGGER.items", True),
        ("TRIGGER.missing is None", True),
        ("TRIGGER.a is not None", True),
        ("TRIGGER.flag is False", True),
        ("1 is 1", True),
        ("1 is True", False),
        ("not TRIGGER.flag", True),
        ("not TRIGGER.items", False),
        ("'yes' if TRIGGER.a == 1 else 'no'", "yes"),
        ("'yes' if TRIGGER.flag else 'no'", "no"),
        ("(1 + 2) * 3", 9),
        ("TRIGGER.items[var.i]", 2),
        ("TRIGGER.items[-1]", 3),
        ("TRIGGER.name[0]", "a"),
        ("TRIGGER.name[-1]", "e"),
        ("{'a': [10, 20]}['a'][1]", 20),
        ("[TRIGGER.a, var.word]", [1, "hi"]),
        ("{'n': TRIGGER.name, var.word: 1}", {"n": "alice", "hi": 1}),
    ],
)
def test_operators(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("TRIGGER.missing || 'default'", "default"),
        ("TRIGGER.empty || 'default'", "default"),
        ("TRIGGER.name || 'default'", "alice"),
        ("TRIGGER.a && TRIGGER.name", "alice"),
        ("TRIGGER.flag && TRIGGER.name", False),
        ("TRIGGER.items && []", []),
        ("0 or None", None),
        ("1 and 2", 2),
    ],
)
def test_and_or_return_an_operand(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "TRIGGER.a || 1 / 0",
        "TRIGGER.flag && 1 / 0",
        "'ok' if True else 1 / 0",
        "1 / 0 if False else 'ok'",
        "FN.boom(1) if TRIGGER.flag else 'ok'",
    ],
)
def test_short_circuits_skip_the_other_operand(expr: str) -> None:
    assert ev(expr) in (1, False, "ok")


def test_function_calls() -> None:
    assert ev("FN.length(TRIGGER.items)") == 3
    assert ev("FN.uppercase(TRIGGER.name)") == "ALICE"
    assert ev("FN.concat('a', 'b', 'c')") == "abc"
    assert ev("FN.add(TRIGGER.a, 2) * 10") == 30


def test_function_results_can_be_indexed() -> None:
    assert ev("FN.split(TRIGGER.csv, ',')[0]") == "x"
    assert ev("FN.split(TRIGGER.csv, ',')[-1]") == "z"
    assert ev("FN.split(TRIGGER.csv, ',')[1][0]") == "y"


def test_map_broadcasts_lists_and_repeats_scalars() -> None:
    assert ev("FN.add.map([1, 2, 3], 10)") == [11, 12, 13]
    assert ev("FN.add.map(10, [1, 2])") == [11, 12]
    assert ev("FN.add.map([1, 2], [10, 20])") == [11, 22]
    assert ev("FN.uppercase.map(['a', 'b'])") == ["A", "B"]
    assert ev("FN.add.map([], 1)") == []


def test_map_refuses_unequal_lists_and_no_list() -> None:
    with pytest.raises(
        ExpressionError, match=r"FN.add.map: list arguments have different lengths \(2, 3\)"
    ):
        ev("FN.add.map([1, 2], [1, 2, 3])")
    with pytest.raises(ExpressionError, match="needs at least one list argument"):
        ev("FN.add.map(1, 2)")


def test_a_miss_is_none_and_reported() -> None:
    misses: list[str] = []
    assert ev("TRIGGER.nope.deeper", on_miss=misses.append) is None
    assert ev("ACTIONS.fetch.result.rows[5].id", on_miss=misses.append) is None
    assert ev("TRIGGER.a", on_miss=misses.append) == 1
    assert misses == ["TRIGGER.nope.deeper", "ACTIONS.fetch.result.rows[5].id"]


@pytest.mark.parametrize(
    "expr",
    ["5[0]", "[1]['a']", "[1][True]", "TRIGGER.items[var.missing]", "{'a': 1}[[1]]", "(None)[0]"],
)
def test_indexing_what_cannot_be_indexed_is_a_miss_like_a_path(expr: str) -> None:
    misses: list[str] = []
    assert ev(expr, on_miss=misses.append) is None
    assert misses[-1].endswith("]")
    with pytest.raises(PathMissError):
        ev(expr, strict=True)


def test_a_present_none_is_not_a_miss() -> None:
    misses: list[str] = []
    assert ev("TRIGGER.x", {"TRIGGER": {"x": None}}, on_miss=misses.append) is None
    assert misses == []


def test_strict_misses_raise_with_the_walked_path() -> None:
    with pytest.raises(PathMissError) as caught:
        ev("ACTIONS.fetch.result.rows[5].id", strict=True)
    error = caught.value
    assert error.path == "ACTIONS.fetch.result.rows[5].id"
    assert error.walked == "ACTIONS.fetch.result.rows"
    assert error.expression == "ACTIONS.fetch.result.rows[5].id"
    assert "resolved up to 'ACTIONS.fetch.result.rows'" in str(error)


def test_strict_miss_of_a_whole_context() -> None:
    with pytest.raises(PathMissError) as caught:
        ev("SECRETS.token.value", strict=True)
    assert caught.value.walked == ""


def test_strict_miss_when_indexing_a_function_result() -> None:
    with pytest.raises(PathMissError) as caught:
        ev("FN.split(TRIGGER.csv, ',')[9]", strict=True)
    assert caught.value.path == 'FN.split(TRIGGER.csv, ",")[9]'


@pytest.mark.parametrize(
    "expr",
    ["TRIGGER.__class__", "TRIGGER.name.__class__", "TRIGGER.items.append", "TRIGGER['__dict__']"],
)
def test_paths_never_reach_python_attributes(expr: str) -> None:
    misses: list[str] = []
    assert ev(expr, on_miss=misses.append) is None
    assert misses == [expr]


def test_paths_walk_any_mapping() -> None:
    from types import MappingProxyType

    assert ev("TRIGGER.a.b", {"TRIGGER": MappingProxyType({"a": {"b": 2}})}) == 2


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1 + 'a'", "cannot apply '+' to int and str in expression '1 + 'a''"),
        ("'a' - 'b'", "cannot apply '-' to str and str"),
        ("{} + {}", "cannot apply '+' to dict and dict"),
        ("None * 2", "cannot apply '*' to None and int"),
        ("1 < 'a'", "cannot compare int and str with '<'"),
        ("None >= 1", "cannot compare None and int with '>='"),
        ("1 / 0", "division by zero in expression '1 / 0'"),
        ("1.5 / 0.0", "division by zero"),
        ("5 % 0", "modulo by zero"),
        ("-'a'", "cannot apply unary '-' to str"),
        ("int(None)", "cannot cast None to int in expression 'int(None)'"),
        ("int('abc')", "cannot cast 'abc' (str) to int"),
        ("float([1])", "cannot cast list (list) to float"),
        ("TRIGGER.name -> int", "cannot cast 'alice' (str) to int"),
        ("1 in 'abc'", "'in <string>' needs a string on the left, not int"),
        ("1 in 5", "cannot test membership in int"),
        ("[1] in {'a': 1}", "cannot look up list in an object"),
        ("{[1]: 2}", "an object key must be a string or number, not list"),
        ("FOO.x", "unknown context 'FOO' in expression 'FOO.x'"),
        ("trigger.x", "unknown context 'trigger'; did you mean 'TRIGGER'?"),
        ("FN", "'FN' is not a value"),
        ("FN.lenght(TRIGGER.items)", "unknown function 'FN.lenght'; did you mean 'FN.length'?"),
        ("FN.length(1, 2)", "FN.length takes 1 argument(s), 2 given"),
        ("FN.add.map([1])", "FN.add takes 2 argument(s), 1 given"),
        ("foo(1)", "'foo' is not a function"),
        ("TRIGGER.a(1)", "'TRIGGER.a' is not a function"),
        ("FN.a.b.c(1)", "'FN.a.b.c' is not a function"),
        ("TRIGGER.a -> list", "unknown cast 'list'"),
        ("FN.boom(3)", "FN.boom failed: cannot boom 3 (ValueError) in expression 'FN.boom(3)'"),
        ("FN.boom.map([1])", "FN.boom.map failed: cannot boom 1 (ValueError)"),
        ("for var.x in [1]", "only allowed in for_each"),
        ("TRIGGER.s.`nosuchfn`", "invalid path"),
    ],
)
def test_error_messages_name_the_expression_and_the_problem(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        ev(expr)
    assert message in str(caught.value)
    assert caught.value.expression == expr


def test_function_errors_keep_the_cause_for_the_log() -> None:
    with pytest.raises(ExpressionError) as caught:
        ev("FN.boom(1)")
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize(
    "expr",
    [
        "'a' * 1000000000",
        "[1] * 1000000000",
        "1000000000 * 'ab'",
        "'a' * 600000 + 'b' * 600000",
        "[0] * 600000 + [1] * 600000",
    ],
)
def test_blowups_are_refused(expr: str) -> None:
    with pytest.raises(ExpressionError, match="result too large"):
        ev(expr)


def test_deep_nesting_is_an_expression_error() -> None:
    deep = "-" * 3000 + "1"
    with pytest.raises(ExpressionError, match="nested too deeply"):
        ev(deep)
    lists = "[" * 2000 + "]" * 2000
    with pytest.raises(ExpressionError, match="nested too deeply"):
        ev(lists)


def test_moderate_nesting_works() -> None:
    assert ev("(" * 200 + "1" + ")" * 200) == 1
    assert ev("-" * 100 + "1") == 1
    nested: Any = []
    for _ in range(49):
        nested = [nested]
    assert ev("[" * 50 + "]" * 50) == nested


def test_the_clock_is_set_for_one_evaluation() -> None:
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert evaluate("${{ FN.clock_now() }}", {}, clock=lambda: fixed) == fixed
    assert CLOCK.get() is None
    assert evaluate("${{ FN.clock_now() }}", {}) != fixed


def test_the_clock_is_reset_after_an_error() -> None:
    fixed: Callable[[], datetime] = lambda: datetime(2030, 1, 1, tzinfo=UTC)  # noqa: E731
    with pytest.raises(ExpressionError):
        evaluate("${{ 1 / 0 }}", {}, clock=fixed)
    assert CLOCK.get() is None


def test_the_library_now_reads_the_clock() -> None:
    if "now" not in FUNCTIONS:
        pytest.skip("FN.now is not registered yet")
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = evaluate("${{ FN.now() }}", {}, clock=lambda: fixed)
    assert result.replace(tzinfo=None) == fixed.replace(tzinfo=None)


def test_function_lookup_happens_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ExpressionError, match=r"unknown function 'FN\.later'"):
        ev("FN.later(1)")
    monkeypatch.setitem(FUNCTIONS, "later", Function("later", lambda x: x * 2, 1, 1))
    assert ev("FN.later(1)") == 2


def test_list_results_are_fresh_each_time() -> None:
    first = ev("[1, 2]")
    first.append(3)
    assert ev("[1, 2]") == [1, 2]
