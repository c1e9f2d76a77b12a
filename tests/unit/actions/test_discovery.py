"""Loading the user's actions: modules, templates, and what happens when one of them fails."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keel.actions.discovery import load_extensions
from keel.actions.registry import Registry, default_registry
from keel.config import Settings

GOOD = '''
from typing import Annotated

from keel import Doc, Secret, action


@action("mine.tools.double", title="Double", secrets=[Secret("mine", keys=["k"])])
def double(n: Annotated[int, Doc("A number")]) -> int:
    """Return twice n."""
    return 2 * n
'''

CLASH = """
from keel import action


@action("mine.tools.double")
def double_again(n: int) -> int:
    return n
"""


def registry_with_core() -> Registry:
    registry = Registry()
    for spec in default_registry().specs():
        if spec.name.startswith("core."):
            registry.register(spec)
    return registry


def test_modules_load_and_failures_are_reported_without_stopping_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "disc_good_actions.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "disc_clash_actions.py").write_text(textwrap.dedent(CLASH))
    (tmp_path / "disc_raising_actions.py").write_text("raise RuntimeError('no network here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with_core()
    problems = load_extensions(
        registry,
        modules=[
            "disc_good_actions",
            "disc_missing_actions",
            "disc_raising_actions",
            "disc_clash_actions",
        ],
        entry_points=False,
    )
    spec = registry.get("mine.tools.double")
    assert (spec.title, spec.description, spec.kind) == ("Double", "Return twice n.", "python")
    assert spec.origin == "disc_good_actions.double"
    assert [s.name for s in spec.secrets] == ["mine"]
    messages = {p.source: p.message for p in problems}
    assert set(messages) == {
        "module disc_missing_actions (KEEL_ACTION_MODULES)",
        "module disc_raising_actions (KEEL_ACTION_MODULES)",
        "module disc_clash_actions (KEEL_ACTION_MODULES)",
    }
    assert "ModuleNotFoundError" in messages["module disc_missing_actions (KEEL_ACTION_MODULES)"]
    assert (
        "RuntimeError: no network here"
        in messages["module disc_raising_actions (KEEL_ACTION_MODULES)"]
    )
    assert (
        "already registered (by disc_good_actions.double)"
        in messages["module disc_clash_actions (KEEL_ACTION_MODULES)"]
    )
    assert registry.problems == problems


def test_a_missing_template_path_is_reported(tmp_path: Path) -> None:
    problems = load_extensions(
        registry_with_core(), template_paths=[tmp_path / "nowhere"], entry_points=False
    )
    assert [p.message for p in problems] == ["KEEL_TEMPLATE_PATHS names no file or folder"]


def test_settings_split_modules_and_paths(tmp_path: Path) -> None:
    settings = Settings(
        action_modules=" a.b , c ,,", template_paths=f"{tmp_path}/x:{tmp_path}/y,rel"
    )
    assert settings.action_module_names() == ["a.b", "c"]
    paths = settings.template_path_list()
    assert paths[:2] == [tmp_path / "x", tmp_path / "y"]
    assert paths[2].is_absolute() and paths[2].name == "rel"
