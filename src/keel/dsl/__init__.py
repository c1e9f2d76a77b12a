"""The workflow format: YAML/JSON documents loaded into a typed model, and their graph checks.

Pure: imports no Temporal, Ray, SQLAlchemy, FastAPI or httpx, and nothing of Keel but
``keel.expressions`` and ``keel.errors``.
"""

from __future__ import annotations

from keel.dsl.diagnostics import Problem
from keel.dsl.duration import parse_duration
from keel.dsl.expects import check_inputs, validate_expects
from keel.dsl.graph import Edge, EdgeKind, Graph, build_graph, parse_edge
from keel.dsl.loader import LoadResult, load_workflow, load_workflow_file, parse_workflow
from keel.dsl.model import (
    ActionStatement,
    Backoff,
    Entrypoint,
    ExpectedField,
    RetryPolicy,
    RunConfig,
    Trigger,
    Workflow,
)
from keel.dsl.source import SourceMap
from keel.dsl.typespec import TypeSpec, TypeSyntaxError, parse_type

__all__ = [
    "ActionStatement",
    "Backoff",
    "Edge",
    "EdgeKind",
    "Entrypoint",
    "ExpectedField",
    "Graph",
    "LoadResult",
    "Problem",
    "RetryPolicy",
    "RunConfig",
    "SourceMap",
    "Trigger",
    "TypeSpec",
    "TypeSyntaxError",
    "Workflow",
    "build_graph",
    "check_inputs",
    "load_workflow",
    "load_workflow_file",
    "parse_duration",
    "parse_edge",
    "parse_type",
    "parse_workflow",
    "validate_expects",
]
