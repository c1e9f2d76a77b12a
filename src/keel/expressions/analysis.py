"""What an expression refers to, and the problems found without a context (for commit time).

:func:`references` tells the validator and the engine which actions, secrets, variables and
functions a template uses; :func:`check` lists every static problem (syntax, unknown context,
unknown function, wrong number of arguments, bad cast). The evaluator reuses the same message
builders, so a problem reads the same whether it is found at commit time or at run time.
"""

from __future__ import annotations

from collections.abc import Iterator as Iter
from dataclasses import dataclass
from functools import lru_cache

from keel.dsl.diagnostics import closest
from keel.errors import ExpressionError
from keel.expressions import nodes as n
from keel.expressions.functions import FUNCTIONS
from keel.expressions.parser import parse
from keel.expressions.paths import jsonpath
from keel.expressions.scanner import scan

#: Words of the grammar; one of them where a value belongs is lexed as a (bad) context name.
KEYWORDS = frozenset(
    {"if", "else", "for", "in", "not", "is", "and", "or", "True", "False", "None", "true", "false"}
    | {"null"}
)


@dataclass(frozen=True)
class FunctionCall:
    """One ``FN`` call in an expression: the function name, its argument count, and ``.map``."""

    name: str
    argc: int
    mapped: bool


@dataclass(frozen=True)
class References:
    """What a template refers to.

    Attributes:
        actions: Action refs read as ``ACTIONS.<ref>``.
        contexts: Context names used (``TRIGGER``, ``ACTIONS``, ``FN``, ``PARENT``, ...).
        functions: Every ``FN`` call, in order of appearance.
        secrets: Secret names read as ``SECRETS.<name>``.
        vars: Workspace variable names read as ``VARS.<name>``.
        loop_vars: Loop variable names read as ``var.<name>``.
    """

    actions: frozenset[str] = frozenset()
    contexts: frozenset[str] = frozenset()
    functions: tuple[FunctionCall, ...] = ()
    secrets: frozenset[str] = frozenset()
    vars: frozenset[str] = frozenset()
    loop_vars: frozenset[str] = frozenset()


# The first key under these contexts is a name the validator or the engine needs.
_NAMED = {"ACTIONS": "actions", "SECRETS": "secrets", "VARS": "vars", "var": "loop_vars"}


def references(template: str) -> References:
    """Return what ``template`` refers to (expressions that do not parse contribute nothing).

    ``template`` may hold any number of ``${{ }}`` expressions, including a ``for_each``
    iterator; the variable an iterator binds is not counted as a reference.
    """
    if "${{" not in template:
        return _NOTHING
    return _references(template) if len(template) > 10_000 else _cached_references(template)


_NOTHING = References()


@lru_cache(maxsize=4096)
def _cached_references(template: str) -> References:
    return _references(template)


def _references(template: str) -> References:
    found: dict[str, set[str]] = {"contexts": set(), **{key: set() for key in _NAMED.values()}}
    calls: list[FunctionCall] = []
    for expression in _expressions(template):
        try:
            tree = parse(expression)
            for node in _walk(tree):
                _note(node, found, calls)
        except (ExpressionError, RecursionError):
            continue
    return References(
        actions=frozenset(found["actions"]),
        contexts=frozenset(found["contexts"]),
        functions=tuple(calls),
        secrets=frozenset(found["secrets"]),
        vars=frozenset(found["vars"]),
        loop_vars=frozenset(found["loop_vars"]),
    )


def _note(node: n.Node, found: dict[str, set[str]], calls: list[FunctionCall]) -> None:
    if isinstance(node, n.PathNode):
        found["contexts"].add(node.context)
        kind = _NAMED.get(node.context)
        keys = node.path.keys
        if kind and keys and isinstance(keys[0], str):
            found[kind].add(keys[0])
    elif isinstance(node, n.CallNode) and node.function is not None:
        found["contexts"].add("FN")
        calls.append(FunctionCall(node.function, len(node.args), node.mapped))


def check(template: str) -> list[str]:
    """Return every problem of ``template`` that needs no context, each naming its expression."""
    spans, unclosed = scan(template)
    problems: list[str] = []
    for span in spans:
        try:
            tree = parse(span.expression)
            details = [d for node in _walk(tree) for d in _node_problems(node)]
        except ExpressionError as exc:
            details = [exc.detail]
        except RecursionError:
            details = ["expression is nested too deeply"]
        problems.extend(str(ExpressionError(d, span.expression)) for d in dict.fromkeys(details))
    if unclosed is not None:
        fragment = template[unclosed : unclosed + 40]
        problems.append(str(ExpressionError("'${{' is never closed by '}}'", fragment)))
    return problems


def _node_problems(node: n.Node) -> Iter[str]:
    problem: str | None = None
    if isinstance(node, n.PathNode):
        problem = context_problem(node.context)
        if problem is None and node.path.tail is not None:
            try:
                jsonpath(node.path.tail)
            except ExpressionError as exc:
                problem = exc.detail
    elif isinstance(node, n.CallNode):
        problem = call_problem(node.callee, len(node.args), True)
    elif isinstance(node, n.CastNode):
        problem = cast_problem(node.kind)
    elif isinstance(node, n.IteratorNode) and node.var is None:
        problem = f"a for_each loop variable must be 'var.<name>', not '{node.target}'"
    if problem:
        yield problem


def context_problem(name: str) -> str | None:
    """Return what is wrong with a path starting at ``name``, or None for a known context."""
    if name in n.CONTEXTS:
        return None
    if name == "FN":
        return "'FN' is not a value: call a function, as in FN.length(x)"
    if name in KEYWORDS:
        return f"'{name}' cannot be used here"
    if name in n.CASTS:
        return f"'{name}' is a cast: write {name}(x) or x -> {name}"
    upper = {c.upper(): c for c in n.CONTEXTS}
    hint = upper.get(name.upper()) or closest(name, sorted(n.CONTEXTS))
    suggestion = f"; did you mean '{hint}'?" if hint else ""
    return f"unknown context '{name}'{suggestion}"


def cast_problem(kind: str) -> str | None:
    """Return what is wrong with the cast ``kind``, or None for ``int|float|str|bool``."""
    if kind in n.CASTS:
        return None
    return f"unknown cast '{kind}': use int, float, str or bool"


def call_problem(callee: str, argc: int, check_registry: bool) -> str | None:
    """Return what is wrong with calling ``callee`` with ``argc`` arguments, or None."""
    parts = callee.split(".")
    if parts[0] != "FN" or len(parts) < 2:
        return (
            f"'{callee}' is not a function: call FN.<name>(...) or a cast (int, float, str, bool)"
        )
    if len(parts) > 3 or (len(parts) == 3 and parts[2] != "map") or not parts[1].isidentifier():
        return f"'{callee}' is not a function: write FN.<name>(...) or FN.<name>.map(...)"
    if not check_registry:
        return None
    function = FUNCTIONS.get(parts[1])
    if function is None:
        hint = closest(parts[1], sorted(FUNCTIONS))
        suggestion = f"; did you mean 'FN.{hint}'?" if hint else ""
        return f"unknown function 'FN.{parts[1]}'{suggestion}"
    if not function.accepts(argc):
        return f"FN.{parts[1]} takes {function.arity_text()} argument(s), {argc} given"
    return None


def _expressions(template: str) -> Iter[str]:
    spans, _ = scan(template)
    return (span.expression for span in spans)


def _walk(node: n.Node) -> Iter[n.Node]:
    # Iterative, so a deeply nested expression cannot overflow the stack here.
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(n.children(current)))
