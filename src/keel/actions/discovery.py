"""Finds the user's own actions: installed packages, named modules and template folders.

Three sources, loaded in this order into one registry (:func:`load_extensions`):

1. **Entry points.** An installed package declares its action modules in the ``keel.actions``
   entry-point group (``[project.entry-points."keel.actions"] acme = "acme_actions"``); each
   module is imported, and its ``@keel.action`` functions register themselves.
2. **Modules** named by ``KEEL_ACTION_MODULES`` (comma-separated), for quick local use.
3. **Templates** under ``KEEL_TEMPLATE_PATHS`` (see :mod:`keel.actions.templates`), last, so
   their steps may call the actions of the first two.

A source that fails (an import error, a duplicate action name, a template with a bad line) is
recorded as a :class:`~keel.actions.registry.LoadProblem` naming it and the error; the others
still load. The CLI prints these at start-up, workers log them, and ``keel actions list`` and
``GET /actions`` show them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from keel.actions.registry import LoadProblem, Registry, registering_into
from keel.actions.templates import load_templates

_LOG = logging.getLogger("keel.actions")

#: The entry-point group installed packages declare their action modules in.
ENTRY_POINT_GROUP = "keel.actions"


def load_extensions(
    registry: Registry,
    *,
    modules: Sequence[str] = (),
    template_paths: Iterable[Path] = (),
    entry_points: bool = True,
) -> list[LoadProblem]:
    """Load the user's actions into ``registry``; return (and record) what failed to load."""
    problems: list[LoadProblem] = []
    if entry_points:
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point {entry.name} = {entry.value} ({ENTRY_POINT_GROUP})"
            problem = _import(registry, source, entry.load)
            if problem is not None:
                problems.append(problem)
    for name in modules:
        problem = _import(registry, f"module {name} (KEEL_ACTION_MODULES)", _importer(name))
        if problem is not None:
            problems.append(problem)
    problems.extend(load_templates(registry, template_paths))
    registry.problems.extend(problems)
    for problem in problems:
        # Without a logging setup, Python prints warnings to stderr: every process that builds
        # the registry (CLI, API, worker) reports these at start-up.
        _LOG.warning("keel: some actions were not loaded: %s", problem)
    return problems


def _importer(name: str) -> Callable[[], object]:
    def load() -> object:
        return importlib.import_module(name)

    return load


def _import(registry: Registry, source: str, load: Callable[[], object]) -> LoadProblem | None:
    """Run ``load`` with ``@action`` registering into ``registry``; a failure becomes a problem."""
    try:
        with registering_into(registry):
            load()
    except Exception as exc:  # an action module's own import error, whatever it is
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return LoadProblem(source, f"failed to import: {message}")
    return None
