"""Abuse tests of the bounds on user code: every bomb is refused cheaply, naming its limit.

Each case is one of the resource bombs a hostile review found (``str()`` of a container built
before its size was checked, ``%(key)`` widths, FN.pow nesting, alias bombs...). Each asserts the
error names the limit, and that the peak memory of the refused call stays far below what the bomb
would have allocated (tracemalloc, in-process; no timing assertions).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from keel.errors import ExpressionError, LambdaError
from keel.expressions import evaluate, evaluate_expression
from keel.expressions.lambdas import compile_lambda
from keel.expressions.limits import (
    DEFAULT,
    UNITS_PER_RUN,
    Limits,
    WorkBudget,
    current,
    limits_set,
)

#: Peak memory a refused bomb may use; each bomb below would allocate 100 MB to several GB.
PEAK_BYTES = 40 * 1024 * 1024

BIG_LIST = ["a" * 1_000_000] * 3000  # 3 MB of references to one string: 3 GB as text

YAML_BOMB = (  # 10**6 items from a few hundred bytes
    "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)


def peak_of(call: Callable[[], Any]) -> tuple[BaseException | None, int]:
    """Run ``call``; return what it raised (or None) and its peak traced memory."""
    tracemalloc.start()
    try:
        call()
    except Exception as exc:
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


@pytest.mark.parametrize(
    ("source", "arg", "expected"),
    [
        ("lambda x: str(['a' * 10**6] * 3000)", None, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: str(x)", BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: f'{x}'", BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: f'{x!r:>5}'", BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: f'{x[0]}{x[1]}{x[2]}{x[3]}{x[4]}{x[5]}{x[6]}{x[7]}{x[8]}{x[9]}{x[10]}'",
         BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: '%(a)999999999s' % {'a': 1}", None, "format width 999,999,999"),
        ("lambda x: '%(a)s' * 100 % {'a': x[0]}", BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: '%s' % (x,)", BIG_LIST, "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: '%r' * 11 % tuple(x[:11])", BIG_LIST[:20], "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: round(10**300, -10**9)", None, "ndigits"),
        # One step each, but over a large value: work, not steps, is what the budget counts.
        ("lambda x: [x == x for i in range(10**6)]", ["a"] * 10**6, "KEEL_LAMBDA_WORK"),
        ("lambda x: [x.count('b') for i in range(10**6)]", "a" * 10**6, "KEEL_LAMBDA_WORK"),
        ("lambda x: [('q' in x) for i in range(10**6)]", ["a"] * 10**6, "KEEL_LAMBDA_WORK"),
        ("lambda x: [x.split('a') for i in range(100)]", "a" * 10**6, "KEEL_LAMBDA_WORK"),
        ("lambda x: [sorted(x) for i in range(100)]", list(range(10**5)), "KEEL_LAMBDA_WORK"),
    ],
)  # fmt: skip
def test_lambda_bombs_are_refused_before_they_allocate(
    source: str, arg: Any, expected: str
) -> None:
    error, peak = peak_of(lambda: compile_lambda(source)(arg))
    assert isinstance(error, LambdaError), error
    assert expected in str(error)
    assert peak < PEAK_BYTES, f"peak {peak:,} bytes"


def test_a_lambda_has_a_wall_clock_deadline() -> None:
    # Cheap steps that the work budget allows many of: only the deadline stops them early.
    with (
        limits_set(Limits(lambda_work=10**12, lambda_seconds=0.05)),
        pytest.raises(LambdaError, match="KEEL_LAMBDA_SECONDS"),
    ):
        compile_lambda("lambda x: [1 for i in range(10**12)]")(None)


def test_limits_set_applies_to_the_block_only() -> None:
    small = Limits(max_length=1_000)
    with limits_set(small):
        assert current() is small
        with pytest.raises(LambdaError, match="limit 1,000"):
            compile_lambda("lambda x: 'a' * 1001")(None)
    assert current() == DEFAULT
    assert compile_lambda("lambda x: len('a' * 1001)")(None) == 1001


def test_ordinary_lambdas_stay_cheap_and_correct() -> None:
    assert compile_lambda("lambda x: f'{x!r}-{x}'")(["a"]) == "['a']-['a']"
    assert compile_lambda("lambda x: '%(a)s=%(b)5.1f' % x")({"a": "k", "b": 2.25}) == "k=  2.2"
    assert compile_lambda("lambda x: str(x)")({"k": [1, None]}) == "{'k': [1, None]}"
    assert compile_lambda("lambda x: sorted(x)[:3]")(list(range(1000, 0, -1))) == [1, 2, 3]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("FN.pow(FN.pow(10, 10000), 10000)", "more than 100,000"),
        ("FN.mul(FN.pow(10, 10000), FN.pow(FN.pow(10, 100), 1000))", "more than 100,000"),
        ("FN.format('{:{}}', 1, 2000000000)", "too large"),
        ("FN.format('{:>{}.{}}', 'a', 5, 2000000000)", "too large"),
        ("FN.format('{}', TRIGGER.big)", "KEEL_MAX_VALUE_LENGTH"),
        ("FN.format('{!r}', TRIGGER.big)", "KEEL_MAX_VALUE_LENGTH"),
        ("FN.join(TRIGGER.many, TRIGGER.long)", "KEEL_MAX_VALUE_LENGTH"),
        ("FN.replace(TRIGGER.long, 'x', TRIGGER.long)", "KEEL_MAX_VALUE_LENGTH"),
        ("FN.prefix(TRIGGER.many, TRIGGER.long)", "KEEL_MAX_VALUE_LENGTH"),
        ("FN.deserialize_yaml(TRIGGER.yaml)", "KEEL_YAML_ALIAS_NODES"),
    ],
)  # fmt: skip
def test_fn_bombs_are_refused_before_they_allocate(expression: str, expected: str) -> None:
    context = {
        "TRIGGER": {"big": BIG_LIST, "many": ["a"] * 1000, "long": "x" * 10**6, "yaml": YAML_BOMB}
    }
    error, peak = peak_of(lambda: evaluate_expression(expression, context))
    assert isinstance(error, ExpressionError), error
    assert expected in str(error)
    assert "internal error" not in str(error)
    assert peak < PEAK_BYTES, f"peak {peak:,} bytes"


def test_fn_format_still_formats() -> None:
    assert evaluate("${{ FN.format('{:>{}}|{:.2f}', 'a', 3, 2.5) }}", {}) == "  a|2.50"


def test_a_backtracking_regex_times_out_naming_the_setting() -> None:
    with (
        limits_set(Limits(regex_seconds=0.05)),
        pytest.raises(ExpressionError, match="KEEL_REGEX_SECONDS"),
    ):
        evaluate_expression("FN.regex_match('(a|aa)+$', TRIGGER)", {"TRIGGER": "a" * 60 + "b"})
    assert evaluate_expression("FN.regex_extract('(b+)', 'abbc')", {}) == "bb"


def test_expression_work_is_per_evaluation_and_deterministic() -> None:
    expression = "FN.length(FN.range(0, 5000))"
    with limits_set(Limits(expression_work=12_000)):
        assert evaluate_expression(expression, {}) == 5000  # 5,000 built + 5,000 read
        messages = set()
        for _ in range(3):  # the same refusal every time: a replay decides as the first run did
            with pytest.raises(ExpressionError) as info:
                evaluate_expression("FN.length(FN.unique(FN.range(0, 5000)))", {})
            messages.add(str(info.value))
    assert len(messages) == 1
    assert "KEEL_EXPRESSION_WORK" in messages.pop()


@pytest.fixture
def tight() -> Iterator[None]:
    with limits_set(Limits(expression_work=1_000)):
        yield


@pytest.mark.usefixtures("tight")
@pytest.mark.parametrize(
    "expression",
    [
        "TRIGGER.s + TRIGGER.s",
        "TRIGGER.l == TRIGGER.l",
        "'q' in TRIGGER.l",
        "FN.length(TRIGGER.l)",
    ],
)
def test_operators_and_calls_pay_for_what_they_read(expression: str) -> None:
    context = {"TRIGGER": {"s": "a" * 20_000, "l": list(range(2_000))}}
    with pytest.raises(ExpressionError, match="KEEL_EXPRESSION_WORK"):
        evaluate_expression(expression, context)


def test_hash_lookups_do_not_pay_for_the_container() -> None:
    # Membership in a set or dict, and dict.get, are O(1): filtering many items against a large
    # allowlist must stay within the budget (a list would pay for every scan).
    allowed = {f"10.0.0.{i % 256}-{i}": True for i in range(100_000)}
    keep = compile_lambda("lambda x: [i for i in x[0] if i in x[1] or x[1].get(i)]")
    assert keep([["a"] * 5_000, allowed]) == []
    with pytest.raises(LambdaError, match="KEEL_LAMBDA_WORK"):
        compile_lambda("lambda x: [i for i in x[0] if i in x[1]]")([["a"] * 5_000, list(allowed)])


def test_str_of_a_long_string_is_not_refused() -> None:
    # str() of a string returns it: nothing is built, so nothing is refused.
    assert len(compile_lambda("lambda x: str(x)")("a" * 9_999_999)) == 9_999_999


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("FN.deserialize_json(TRIGGER)", "[" * 65 + "]" * 65),
        ("FN.deserialize_json(TRIGGER)", "[" * 100_000 + "]" * 100_000),
        ("FN.deserialize_ndjson(TRIGGER)", '{"a": 1}\n' + "[" * 65 + "]" * 65),
        ("FN.deserialize_yaml(TRIGGER)", "[" * 65 + "]" * 65),
    ],
)
def test_parsed_values_nest_at_most_max_depth(expression: str, text: str) -> None:
    # Deeper data would overflow Python's stack later, in workflow code or Temporal's converter.
    with pytest.raises(ExpressionError, match="nest") as info:
        evaluate_expression(expression, {"TRIGGER": text})
    assert "internal error" not in str(info.value)
    assert evaluate_expression("FN.deserialize_json(TRIGGER)", {"TRIGGER": "[" * 64 + "]" * 64})


def test_regex_searches_of_one_budget_share_its_seconds() -> None:
    # Five backtracking searches must not take five timeouts: a workflow task has one allowance.
    budget = WorkBudget(10**6, regex_seconds=0.1)
    context = {"TRIGGER": ["a" * 60 + "b"] * 5}
    with pytest.raises(ExpressionError, match="KEEL_REGEX_SECONDS"):
        evaluate_expression("FN.regex_match.map('(a|aa)+$', TRIGGER)", context, budget=budget)
    assert budget.regex_left <= 0
    with pytest.raises(ExpressionError, match="ran out of time"):  # even an easy one, now
        evaluate_expression("FN.regex_match('a', 'a')", {}, budget=budget)
    assert evaluate_expression("FN.regex_match('a', 'a')", {}) is True  # a new budget


def test_every_run_costs_its_overhead() -> None:
    # Cheap expressions are not free: 100,000 for_each items evaluated in one workflow task
    # would take the task past Temporal's deadlock detector, whatever each one reads.
    budget = WorkBudget(UNITS_PER_RUN * 100)
    for _ in range(100):
        evaluate_expression("1 + 1", {}, budget=budget)
    with pytest.raises(ExpressionError, match="too many expressions run at once"):
        evaluate_expression("1 + 1", {}, budget=budget)
