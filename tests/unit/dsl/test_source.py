"""The source map: lines by path, ancestors, duplicates, anchors."""

from __future__ import annotations

import yaml

from keel.dsl.source import DuplicateKey, SourceMap, map_source

TEXT = """\
title: t
actions:
  - ref: a
    args:
      url: x
  - ref: b
"""


def _map(text: str) -> tuple[SourceMap, list[DuplicateKey]]:
    return map_source(yaml.compose(text, Loader=yaml.SafeLoader))


def test_lines_by_path() -> None:
    source, duplicates = _map(TEXT)
    assert duplicates == []
    assert source.line(()) == 1
    assert source.line(("title",)) == 1
    assert source.line(("actions",)) == 2
    assert source.line(("actions", 0)) == 3
    assert source.line(("actions", 0, "args")) == 4
    assert source.line(("actions", 0, "args", "url")) == 5
    assert source.line(("actions", 1, "ref")) == 6


def test_unknown_path_falls_back_to_deepest_ancestor() -> None:
    source, _ = _map(TEXT)
    assert source.line(("actions", 0, "args", "missing", 3)) == 4
    assert source.line(("actions", 7)) == 2
    assert SourceMap().line(("a",)) is None


def test_subtree_rebases_paths() -> None:
    source, _ = _map("definition:\n  title: t\n  actions:\n    - ref: a\n")
    inner = source.subtree(("definition",))
    assert inner.line(("actions", 0)) == 4
    assert inner.line(()) == 1
    assert ("actions",) in inner


def test_duplicate_keys_are_found_with_both_lines() -> None:
    _, duplicates = _map("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    found = {(d.path, d.line, d.first_line) for d in duplicates}
    assert found == {(("b", "c"), 4, 3), (("a",), 5, 1)}


def test_merge_keys_are_not_duplicates_and_recursive_aliases_end() -> None:
    text = "base: &b {x: 1}\nitem:\n  <<: *b\n  x: 2\nloop: &l [*l]\n"
    source, duplicates = _map(text)
    assert duplicates == []
    assert source.line(("item", "x")) == 4
