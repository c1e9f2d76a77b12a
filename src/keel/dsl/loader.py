"""Loads workflow documents (YAML or JSON text) into the model, keeping the line of every node.

Loading never stops at the first problem: syntax errors end it (there is nothing to check after
them), but every schema error and every duplicate key is reported, each with file, line, action
ref and field. Graph rules, expressions and the action registry are checked later, by
:mod:`keel.dsl.graph` and :mod:`keel.dsl.validation`.

YAML timestamps (``2026-12-01T09:00:00Z`` unquoted) are read as the strings they are written as,
so that a document's data stays JSON (it travels to Temporal) and keeps the user's spelling.
YAML is read with :mod:`keel.dsl.yaml_safety`'s bounds: a document whose aliases expand past
``max_alias_nodes`` nodes, that is recursive or that nests too deeply is a syntax problem naming
its line, found before anything walks the expanded tree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from keel.dsl.diagnostics import Problem
from keel.dsl.model import Workflow, unwrap_definition
from keel.dsl.schema_errors import dotted, locate, problems_from_validation
from keel.dsl.source import DuplicateKey, SourceMap, map_source
from keel.dsl.values import describe_value
from keel.dsl.yaml_safety import BoundedLoader, YamlLimitError, compose
from keel.errors import DefinitionError
from keel.expressions.limits import current


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading one document.

    Attributes:
        workflow: The model, or ``None`` when the document could not be turned into one. It may be
            set while ``problems`` still holds errors (a duplicate key does not stop the model).
        source: Lines of the document's nodes (paths relative to the workflow, also for a
            wrapped ``definition:`` export).
        problems: Every problem found while loading.
    """

    workflow: Workflow | None
    source: SourceMap = field(default_factory=SourceMap)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether the document loaded without errors (warnings allowed)."""
        return self.workflow is not None and all(p.severity != "error" for p in self.problems)


class _Loader(BoundedLoader):
    """Keel's bounded safe loader, reading timestamps as plain strings."""


def _timestamp_as_text(loader: _Loader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def load_workflow(
    text: str, *, file: str | None = None, max_alias_nodes: int | None = None
) -> LoadResult:
    """Load a workflow document given as YAML or JSON text.

    A document whose first non-blank character is ``{`` is read as JSON (so JSON syntax errors
    get JSON's messages); anything else as YAML. A wrapped Tracecat export (``definition:`` holding
    the workflow, and no top-level ``actions``) loads its inner definition. ``max_alias_nodes``
    bounds how many nodes YAML aliases may add (see :mod:`keel.dsl.yaml_safety`); by default,
    the bound in force (:func:`keel.expressions.limits.current`, ``KEEL_YAML_ALIAS_NODES``).
    """
    if max_alias_nodes is None:
        max_alias_nodes = current().yaml_nodes
    parsed = _parse(text, file, max_alias_nodes)
    if isinstance(parsed, Problem):
        return LoadResult(None, SourceMap(), [parsed])
    data, source, duplicates = parsed
    prefix: tuple[str, ...] = ()
    if unwrap_definition(data) is not data:
        data, prefix, source = data["definition"], ("definition",), source.subtree(("definition",))
    problems = [_duplicate_problem(d, prefix, data, file) for d in duplicates]
    if data is None:
        problems.append(_document_problem("the document is empty", file, source))
        return LoadResult(None, source, problems)
    if not isinstance(data, Mapping):
        problems.append(_document_problem(f"got {describe_value(data)}", file, source))
        return LoadResult(None, source, problems)
    workflow, schema_problems = _validate(data, source, file)
    # Report in document order; problems without a line (rare) go last.
    problems = sorted(problems + schema_problems, key=lambda p: (p.line is None, p.line or 0))
    return LoadResult(workflow, source, problems)


def load_workflow_file(path: str | Path) -> LoadResult:
    """Load the workflow document stored at ``path`` (problems name the file)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return LoadResult(None, SourceMap(), [Problem(f"cannot read file: {reason}", file=name)])
    return load_workflow(text, file=name)


def parse_workflow(document: str | Mapping[str, Any], *, file: str | None = None) -> Workflow:
    """Return the model of a document given as text or as already-parsed data.

    Only loading is checked here (syntax, schema, duplicate keys); use
    :func:`keel.dsl.graph.build_graph` or :mod:`keel.dsl.validation` for the rest.

    Raises:
        DefinitionError: The document has errors; it carries every problem.
    """
    if isinstance(document, str):
        result = load_workflow(document, file=file)
        workflow, problems = result.workflow, result.problems
    else:
        data = unwrap_definition(document)
        workflow, problems = _validate(data, SourceMap(), file)
    errors = [p for p in problems if p.severity == "error"]
    if errors or workflow is None:
        raise DefinitionError(errors)
    return workflow


def _validate(
    data: Mapping[str, Any], source: SourceMap, file: str | None
) -> tuple[Workflow | None, list[Problem]]:
    try:
        return Workflow.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, data, source, file=file)


def _parse(
    text: str, file: str | None, max_alias_nodes: int
) -> tuple[Any, SourceMap, list[DuplicateKey]] | Problem:
    """Return the document's data, source map and duplicate keys, or the syntax problem."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"could not parse JSON: {exc.msg} (column {exc.colno})"
            return Problem(message, file=file, line=exc.lineno)
        except RecursionError:
            return Problem("could not parse JSON: the document is nested too deeply", file=file)
        try:
            # JSON is (nearly always) YAML: compose it only for the lines and the duplicate keys.
            _, source, duplicates = _parse_yaml(text, max_alias_nodes)
        except (yaml.YAMLError, RecursionError):
            source, duplicates = SourceMap(), []
        return data, source, duplicates
    try:
        return _parse_yaml(text, max_alias_nodes)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid syntax"
        if exc.context and what.startswith("but "):
            what = f"{exc.context}, {what}"  # "expected a single document..., but found another"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        line = mark.line + 1 if mark is not None else None
        return Problem(f"could not parse YAML: {what}{column}", file=file, line=line)
    except yaml.YAMLError as exc:
        return Problem(f"could not parse YAML: {exc}", file=file)


def _parse_yaml(text: str, max_alias_nodes: int) -> tuple[Any, SourceMap, list[DuplicateKey]]:
    loader = _Loader(text)
    loader.max_alias_nodes = max_alias_nodes
    try:
        node = compose(loader)
        if node is None:
            return None, SourceMap(), []
        try:
            source, duplicates = map_source(node)
            return loader.construct_document(node), source, duplicates
        except RecursionError:
            raise YamlLimitError("the document is nested too deeply", node.start_mark) from None
    finally:
        loader.dispose()


def _duplicate_problem(
    duplicate: DuplicateKey, prefix: tuple[str, ...], data: Any, file: str | None
) -> Problem:
    path = duplicate.path
    if prefix and path[: len(prefix)] == prefix:
        path = path[len(prefix) :]
    ref, field_name = locate(path, data)
    key = duplicate.path[-1]
    return Problem(
        f"duplicate key '{key}' (first given at line {duplicate.first_line}); remove one",
        file=file,
        line=duplicate.line,
        ref=ref,
        field=field_name or dotted(path),
    )


def _document_problem(what: str, file: str | None, source: SourceMap) -> Problem:
    message = f"a workflow document must be a mapping with title, description and actions; {what}"
    return Problem(message, file=file, line=source.line(()))
