"""Fuzzing with random well-formed trees: FN calls, operators and lambdas on random data.

``test_properties`` throws random *text* at the parser; these build random *valid* expressions
and lambdas (every FN function with its own arity, every operator, every builtin and method), so
that evaluation itself is exercised. Whatever comes out must be Keel's own error, never an
internal error, and the tight limits used here must hold (small budgets keep each example fast).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.errors import ExpressionError, LambdaError
from keel.expressions import evaluate_expression
from keel.expressions.functions import FUNCTIONS
from keel.expressions.lambda_builtins import BUILTINS, METHODS
from keel.expressions.lambdas import compile_lambda
from keel.expressions.limits import Limits, limits_set

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: a suite that fails at random helps no one
    suppress_health_check=[HealthCheck.too_slow],
)
TIGHT = Limits(
    lambda_work=20_000,
    lambda_seconds=2.0,
    expression_work=20_000,
    max_length=10_000,
    regex_seconds=0.2,
    yaml_nodes=1_000,
)
# Functions whose answer depends on the wall clock or the machine; fine to call, not to compare.
FN_NAMES = sorted(FUNCTIONS)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, -1, 2, 10, 255, 10**4, 2**31, 10**20]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["", "a", "x,y", "{}", "{:>9}", "%s", "(a+)+$", "a: &a [1]\nb: *a", "1.2.3.4",
                     "2026-01-02T03:04:05Z", "http://x.example/p?q=1", "[1, 2]", "0x10"]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


def _literal(value: Any) -> str:
    return json.dumps(value)


@st.composite
def fn_calls(draw: st.DrawFn, depth: int = 0) -> str:
    """A random FN call with an accepted number of random arguments (some nested calls)."""
    function = FUNCTIONS[draw(st.sampled_from(FN_NAMES))]
    high = function.max_args if function.max_args is not None else function.min_args + 3
    count = draw(st.integers(min_value=function.min_args, max_value=high))
    args = [draw(expressions(depth + 1)) for _ in range(count)]
    return f"FN.{function.name}({', '.join(args)})"


OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in", "not in", "is"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A random well-formed expression over literals, TRIGGER paths, FN calls and operators."""
    leaves = st.one_of(
        json_values.map(_literal),
        st.sampled_from(["TRIGGER", "TRIGGER.a", "TRIGGER.l", "TRIGGER.s", "TRIGGER.d.k"]),
    )
    if depth >= 3:
        return draw(leaves)
    kind = draw(st.sampled_from(["leaf", "call", "call", "binary", "ternary", "index"]))
    if kind == "leaf":
        return draw(leaves)
    if kind == "call":
        return draw(fn_calls(depth))
    left, right = draw(expressions(depth + 1)), draw(expressions(depth + 1))
    if kind == "binary":
        return f"({left} {draw(st.sampled_from(OPERATORS))} {right})"
    if kind == "ternary":
        return f"({left} if {draw(expressions(depth + 1))} else {right})"
    return f"{left}[{right}]"


TRIGGER = {"a": 3, "l": [1, "b", None, {"k": 2}], "s": "Hello, World", "d": {"k": [1, 2]}}


@FUZZ
@given(expressions())
def test_random_expression_trees_raise_only_expression_errors(text: str) -> None:
    with limits_set(TIGHT):
        try:
            evaluate_expression(text, {"TRIGGER": TRIGGER})
        except ExpressionError as exc:
            assert "internal error" not in str(exc), exc


# -- lambdas ----------------------------------------------------------------------------------

LAMBDA_BINARY = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "|", "&", "^", "==", "<",
                 "in", "not in", "and", "or", "is"]  # fmt: skip
METHOD_NAMES = sorted(frozenset().union(*METHODS.values()))


@st.composite
def lambda_bodies(draw: st.DrawFn, depth: int = 0) -> str:
    """A random lambda body over ``x``: builtins, methods, operators, comprehensions, f-strings."""
    leaves = st.one_of(
        st.just("x"),
        json_values.map(repr),
        st.sampled_from(["'%(a)s %5d'", "range(5)", "{'a': 1}"]),
    )
    if depth >= 3:
        return draw(leaves)
    kind = draw(
        st.sampled_from(["leaf", "builtin", "method", "binary", "comp", "fstring", "subscript"])
    )
    inner = lambda_bodies(depth + 1)
    if kind == "leaf":
        return draw(leaves)
    if kind == "builtin":
        args = draw(st.lists(inner, max_size=2))
        return f"{draw(st.sampled_from(sorted(BUILTINS)))}({', '.join(args)})"
    if kind == "method":
        args = draw(st.lists(inner, max_size=2))
        return f"({draw(inner)}).{draw(st.sampled_from(METHOD_NAMES))}({', '.join(args)})"
    if kind == "binary":
        return f"({draw(inner)} {draw(st.sampled_from(LAMBDA_BINARY))} {draw(inner)})"
    if kind == "comp":
        return f"[{draw(inner)} for i in {draw(inner)}]"
    if kind == "fstring":
        spec = draw(st.sampled_from(["", "!r", ":>8", ":.3", ":{x}"]))
        return f"f'{{{draw(inner)}{spec}}}'"
    return f"({draw(inner)})[{draw(inner)}]"


@FUZZ
@given(lambda_bodies(), json_values)
def test_random_lambdas_raise_only_lambda_errors(body: str, value: Any) -> None:
    with limits_set(TIGHT):
        try:
            result = compile_lambda(f"lambda x: {body}")(value)
        except LambdaError:
            return
    # What a call returns stays within the bounds it ran under.
    if isinstance(result, str | list | tuple | dict | set | frozenset):
        assert len(result) <= TIGHT.max_length
