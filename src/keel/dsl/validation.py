"""Commit-time validation: every check a workflow must pass before a version is committed.

A draft may be broken; a committed version never is. :func:`validate_text` runs every rule over a
document and returns *all* the problems it finds (it does not stop at the first), each with the
file, line, action ref and field, so ``keel validate`` and a refused commit can show them at once:

- the document loads (YAML/JSON syntax, schema, unknown action keys) — ``keel.dsl.loader``;
- the graph is sound (refs, edges, one root, entrypoint, no cycles) — ``keel.dsl.graph``;
- ``entrypoint.expects`` types parse — ``keel.dsl.expects``;
- every action exists in the catalog, with its required arguments and no unknown ones; literal
  argument values fit the action's types; a literal ``python_lambda`` compiles in Keel's
  restricted interpreter; Tracecat's ``interaction:`` gets a warning (Keel does not support it);
- every expression parses, calls known FN functions with the right arity, and names only actions
  that exist (and, as a warning, that run before it), and loop variables its ``for_each`` binds.

The action catalog is passed in (see ``keel.dsl.catalog``) so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keel import expressions
from keel.dsl.catalog import ActionCatalog, unavailable_tracecat_action
from keel.dsl.diagnostics import Problem, did_you_mean
from keel.dsl.expects import validate_expects
from keel.dsl.graph import Graph, build_graph
from keel.dsl.instants import parse_instant
from keel.dsl.loader import load_workflow
from keel.dsl.model import ActionStatement, Workflow
from keel.dsl.regions import RegionMap, analyze_regions
from keel.dsl.source import SourceMap
from keel.errors import LambdaError
from keel.expressions.lambdas import compile_lambda

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating one document.

    Attributes:
        workflow: The loaded model, or ``None`` when the document did not load.
        graph: The action graph, or ``None`` when the graph checks failed.
        problems: Every problem found, errors and warnings, in document order where possible.
    """

    workflow: Workflow | None
    graph: Graph | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Return the problems that block a commit."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """Return whether the document may be committed (no errors; warnings allowed)."""
        return not self.errors


def validate_file(path: str | Path, catalog: ActionCatalog) -> ValidationResult:
    """Validate the workflow document stored at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ValidationResult(
            None, None, [Problem(f"cannot read file: {reason}", file=str(path))]
        )
    return validate_text(text, catalog, file=str(path))


def validate_text(
    text: str, catalog: ActionCatalog, *, file: str | None = None
) -> ValidationResult:
    """Validate a workflow document given as YAML or JSON text."""
    loaded = load_workflow(text, file=file)
    if loaded.workflow is None:
        return ValidationResult(None, None, list(loaded.problems))
    problems = list(loaded.problems)
    checker = _Checker(loaded.workflow, loaded.source, catalog, file)
    graph, graph_problems = build_graph(loaded.workflow, loaded.source, file=file)
    problems.extend(graph_problems)
    if graph is not None:
        # Regions are read off a sound graph only (they follow its edges in order).
        checker.regions, region_problems = analyze_regions(
            loaded.workflow.actions, loaded.source, file=file
        )
        problems.extend(region_problems)
    problems.extend(checker.run(graph))
    return ValidationResult(loaded.workflow, graph, problems)


class _Checker:
    """Runs the action and expression rules over one loaded workflow."""

    def __init__(
        self, workflow: Workflow, source: SourceMap, catalog: ActionCatalog, file: str | None
    ) -> None:
        self.workflow = workflow
        self.source = source
        self.catalog = catalog
        self.file = file
        self.refs = {a.ref for a in workflow.actions}
        self.regions: RegionMap | None = None

    def run(self, graph: Graph | None) -> list[Problem]:
        problems: list[Problem] = []
        problems.extend(
            validate_expects(self.workflow.entrypoint.expects, self.source, file=self.file)
        )
        for index, stmt in enumerate(self.workflow.actions):
            problems.extend(self._check_action(index, stmt))
            problems.extend(self._check_action_expressions(index, stmt, graph))
        problems.extend(self._check_document_expressions())
        return problems

    # -- actions and their arguments ---------------------------------------------------------

    def _problem(self, message: str, path: FieldPath, **kw: Any) -> Problem:
        return Problem(message, file=self.file, line=self.source.line(path), **kw)

    def _check_action(self, index: int, stmt: ActionStatement) -> Iterator[Problem]:
        base: FieldPath = ("actions", index)
        if stmt.interaction is not None:
            yield self._problem(
                "interaction is not supported by Keel (Tracecat's approvals and responses): "
                "it is ignored, and the action runs without waiting for one",
                (*base, "interaction"),
                ref=stmt.ref,
                field="interaction",
                severity="warning",
            )
        signature = self.catalog.signature(stmt.action)
        yield from self._check_lambdas(
            stmt, base, signature.lambda_args if signature else frozenset({"python_lambda"})
        )
        if signature is None:
            hint = unavailable_tracecat_action(stmt.action) or did_you_mean(
                stmt.action, self.catalog.names()
            )
            yield self._problem(
                f"unknown action '{stmt.action}'{hint}",
                (*base, "action"),
                ref=stmt.ref,
                field="action",
            )
            return
        given = set(stmt.args)
        for name in sorted(signature.required - given):
            yield self._problem(
                f"missing required argument '{name}' of {stmt.action}",
                (*base, "args"),
                ref=stmt.ref,
                field=f"args.{name}",
            )
        if signature.check_literals is not None:
            for name, message in signature.check_literals(stmt.args):
                yield self._problem(
                    f"{message} ({stmt.action})",
                    (*base, "args", name),
                    ref=stmt.ref,
                    field=f"args.{name}",
                )
        if signature.accepts_any:
            return
        known = signature.required | signature.optional
        for name in sorted(given - known):
            hint = did_you_mean(name, sorted(known))
            yield self._problem(
                f"unknown argument '{name}' for {stmt.action}{hint}",
                (*base, "args", name),
                ref=stmt.ref,
                field=f"args.{name}",
            )

    def _check_lambdas(
        self, stmt: ActionStatement, base: FieldPath, names: frozenset[str]
    ) -> Iterator[Problem]:
        """Compile literal ``python_lambda`` sources now, so a refused one fails the commit."""
        for name in sorted(names):
            source = stmt.args.get(name)
            if not isinstance(source, str) or expressions.has_expression(source):
                continue
            try:
                compile_lambda(source)
            except LambdaError as exc:
                yield self._problem(
                    str(exc), (*base, "args", name), ref=stmt.ref, field=f"args.{name}"
                )

    # -- expressions ---------------------------------------------------------------------------

    def _check_action_expressions(
        self, index: int, stmt: ActionStatement, graph: Graph | None
    ) -> Iterator[Problem]:
        base: FieldPath = ("actions", index)
        bound_vars: set[str] = set()
        for_each = stmt.for_each
        if for_each is not None:
            specs = [for_each] if isinstance(for_each, str) else list(for_each)
            for i, spec in enumerate(specs):
                path: FieldPath = (
                    (*base, "for_each")
                    if isinstance(for_each, str)
                    else (
                        *base,
                        "for_each",
                        i,
                    )
                )
                name = "for_each" if isinstance(for_each, str) else f"for_each[{i}]"
                try:
                    iterators = expressions.parse_for_each(spec)
                except expressions.ExpressionError as exc:
                    yield self._problem(str(exc), path, ref=stmt.ref, field=name, expression=spec)
                    continue
                bound_vars.update(it.var for it in iterators)
                yield from self._check_template(spec, path, name, stmt.ref, graph, None)
        ancestors = graph.ancestors(stmt.ref) if graph is not None else None
        for path, name, text in self._action_templates(index, stmt):
            yield from self._check_template(
                text, path, name, stmt.ref, graph, bound_vars, ancestors
            )
        literal_wait = stmt.wait_until is not None and not expressions.has_expression(
            stmt.wait_until
        )
        if literal_wait:
            try:
                parse_instant(stmt.wait_until, datetime.now(UTC))
            except ValueError as exc:
                path = ("actions", index, "wait_until")
                yield self._problem(str(exc), path, ref=stmt.ref, field="wait_until")

    def _action_templates(
        self, index: int, stmt: ActionStatement
    ) -> Iterator[tuple[FieldPath, str, str]]:
        base: FieldPath = ("actions", index)
        yield from _strings(stmt.args, (*base, "args"), "args")
        if stmt.run_if is not None:
            yield (*base, "run_if"), "run_if", stmt.run_if
        if stmt.retry_policy.retry_until is not None:
            path: FieldPath = (*base, "retry_policy", "retry_until")
            yield path, "retry_policy.retry_until", stmt.retry_policy.retry_until
        if stmt.environment is not None:
            yield (*base, "environment"), "environment", stmt.environment
        if stmt.wait_until is not None:
            yield (*base, "wait_until"), "wait_until", stmt.wait_until

    def _check_document_expressions(self) -> Iterator[Problem]:
        for path, name, text in _strings(self.workflow.returns, ("returns",), "returns"):
            yield from self._check_template(text, path, name, None, None, set())
        env = self.workflow.config.environment
        yield from self._check_template(
            env, ("config", "environment"), "config.environment", None, None, set()
        )

    def _check_template(
        self,
        text: str,
        path: FieldPath,
        name: str,
        ref: str | None,
        graph: Graph | None,
        bound_vars: set[str] | None,
        ancestors: frozenset[str] | None = None,
    ) -> Iterator[Problem]:
        if not expressions.has_expression(text):
            return
        issues = expressions.check(text)
        for message in issues:
            yield self._problem(message, path, ref=ref, field=name, expression=text)
        if issues:
            return
        refs = expressions.references(text)
        for target in sorted(refs.actions):
            if target not in self.refs:
                hint = did_you_mean(target, sorted(self.refs))
                yield self._problem(
                    f"expression refers to unknown action 'ACTIONS.{target}'{hint}",
                    path,
                    ref=ref,
                    field=name,
                    expression=text,
                )
            elif target == ref and not name.startswith("retry_policy") and not self._in_loop(ref):
                yield self._problem(
                    f"action refers to its own result 'ACTIONS.{target}' before it has run",
                    path,
                    ref=ref,
                    field=name,
                    expression=text,
                )
            elif self.regions is not None and not self.regions.visible(ref, target):
                yield self._problem(
                    self._region_reference(target),
                    path,
                    ref=ref,
                    field=name,
                    expression=text,
                )
            elif ancestors is not None and target != ref and target not in ancestors:
                yield self._problem(
                    f"'ACTIONS.{target}' does not run before this action (it is not upstream "
                    "in depends_on), so it may be missing when this is evaluated",
                    path,
                    ref=ref,
                    field=name,
                    expression=text,
                    severity="warning",
                )
        if bound_vars is not None:
            for var in sorted(refs.loop_vars - bound_vars):
                yield self._problem(
                    f"'var.{var}' is not bound: only this action's for_each defines loop variables",
                    path,
                    ref=ref,
                    field=name,
                    expression=text,
                )

    def _in_loop(self, ref: str) -> bool:
        """Return whether ``ref`` runs inside a loop (where it may read its last pass's result)."""
        if self.regions is None:
            return False
        regions = self.regions.regions
        return any(o in regions and regions[o].kind == "loop" for o in self.regions.scopes[ref])

    def _region_reference(self, target: str) -> str:
        """Explain why ``ACTIONS.<target>`` cannot be read here: it runs inside another region."""
        assert self.regions is not None
        opener = self.regions.innermost(target)
        region = self.regions.regions.get(opener or "")
        where = f"inside the region opened by '{opener}'"
        if region is None:
            return f"'ACTIONS.{target}' runs {where}; it cannot be read here"
        per = "once per item" if region.kind == "scatter" else "once per pass"
        exit_ = (
            f"read the result of '{region.closer}' instead"
            if region.closer
            else "gather the region to read its results"
        )
        return f"'ACTIONS.{target}' runs {where} ({per}), so it has no single value here; {exit_}"


def _strings(value: Any, path: FieldPath, name: str) -> Iterator[tuple[FieldPath, str, str]]:
    """Yield ``(source path, dotted field name, text)`` for every string inside ``value``."""
    for inner, text in expressions.iter_strings(value):
        field = name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in inner)
        yield (*path, *(p if isinstance(p, int) else str(p) for p in inner)), field, text
