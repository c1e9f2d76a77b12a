"""Where each part of a workflow document sits in its source text, for pointing problems at lines.

A :class:`SourceMap` maps a *path* (the keys and list indices leading to a value, such as
``("actions", 2, "args", "url")``) to the 1-based line of that value in the YAML or JSON text. For a
mapping entry the line is that of its key (``args:``), because that is where a reader looks; for a
list item it is the line the item starts on. :func:`map_source` builds one from PyYAML's node tree
and finds duplicate mapping keys on the way, which PyYAML would otherwise drop silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import yaml

#: A path into a document: mapping keys (as strings) and list indices.
SourcePath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class DuplicateKey:
    """A key given twice in one YAML/JSON mapping.

    Attributes:
        path: The path of the duplicated entry (the mapping's path plus the key).
        line: 1-based line of the second occurrence.
        first_line: 1-based line of the first occurrence.
    """

    path: SourcePath
    line: int
    first_line: int


@dataclass(frozen=True)
class SourceMap:
    """The 1-based line of every node of a document, by path.

    Attributes:
        lines: Line of each known path; the empty path is the document's first line.
    """

    lines: Mapping[SourcePath, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """Return the line of ``path``, or else of its deepest known ancestor (or ``None``).

        Mapping keys may be given as any scalar; they are compared as strings.
        """
        key: SourcePath = tuple(p if isinstance(p, int) else str(p) for p in path)
        while True:
            found = self.lines.get(key)
            if found is not None:
                return found
            if not key:
                return None
            key = key[:-1]

    def subtree(self, prefix: Sequence[str | int]) -> SourceMap:
        """Return the map of the node at ``prefix``, with paths relative to that node."""
        start = tuple(prefix)
        size = len(start)
        return SourceMap(
            {path[size:]: line for path, line in self.lines.items() if path[:size] == start}
        )

    def __contains__(self, path: object) -> bool:
        return path in self.lines


def map_source(root: yaml.Node) -> tuple[SourceMap, list[DuplicateKey]]:
    """Walk a composed YAML node tree and return its source map and its duplicate keys.

    Merge keys (``<<: *anchor``) are not descended into: their entries belong to the anchor's
    place in the text, and overriding a merged key is not a duplicate.
    """
    walker = _Walker()
    walker.walk(root, (), root.start_mark.line + 1)
    return SourceMap(walker.lines), walker.duplicates


class _Walker:
    """Collects the lines and duplicate keys of one node tree."""

    def __init__(self) -> None:
        self.lines: dict[SourcePath, int] = {}
        self.duplicates: list[DuplicateKey] = []
        self.active: set[int] = set()

    def walk(self, node: yaml.Node, path: SourcePath, line: int) -> None:
        # An alias can refer to one of its own ancestors (`&a [*a]`); stop there instead of
        # recursing forever. Aliases elsewhere are walked again under their own path.
        if id(node) in self.active:
            return
        self.lines[path] = line
        self.active.add(id(node))
        for child_path, child, child_line in self.children(node, path):
            self.walk(child, child_path, child_line)
        self.active.discard(id(node))

    def children(
        self, node: yaml.Node, path: SourcePath
    ) -> Iterator[tuple[SourcePath, yaml.Node, int]]:
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield (*path, index), item, item.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                key_line = key_node.start_mark.line + 1
                if key in seen:
                    # PyYAML keeps the last value, so the map points at the last one too.
                    self.duplicates.append(DuplicateKey((*path, key), key_line, seen[key]))
                else:
                    seen[key] = key_line
                yield (*path, key), value_node, key_line
