"""The one way Keel reads YAML: PyYAML's safe loader, refusing alias bombs and deep nesting.

An alias (``*a``) repeats the node its anchor (``&a``) names without repeating its text, so a few
hundred bytes can describe a billion nodes ("billion laughs"): PyYAML builds them as shared
objects cheaply, but everything after it (the source map, validation, JSON, Temporal's converter)
walks the expanded tree. :class:`BoundedLoader` counts, while it composes, how many nodes the
aliases add once expanded, and stops at the first alias that would pass the bound, naming its
line. An alias that refers to a node containing it (a recursive document) is refused too, and so
is nesting deeper than Python's stack allows.

Every YAML reader of Keel goes through here: workflow documents (:mod:`keel.dsl.loader`),
``FN.deserialize_yaml``, the API and the CLI.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Nodes that aliases may add to a document once expanded (its own nodes are not counted: plain
#: documents are bounded by the size of their text).
DEFAULT_ALIAS_NODES = 100_000


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document is refused by a bound (alias expansion, recursion or nesting depth)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a bound on alias expansion (set ``max_alias_nodes``)."""

    max_alias_nodes: int = DEFAULT_ALIAS_NODES

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose the next node, counting what an alias adds before accepting it."""
        if self.check_event(yaml.AliasEvent):
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._count_alias(event, node)
        return super().compose_node(parent, index)

    def _count_alias(self, event: Any, node: yaml.Node) -> None:
        if _incomplete(node):
            raise YamlLimitError(
                f"alias *{event.anchor} refers to a node that contains it (a recursive document)",
                event.start_mark,
            )
        self._expanded += _expanded_size(node, self._sizes)
        if self._expanded > self.max_alias_nodes:
            raise YamlLimitError(
                f"aliases expand the document by more than {self.max_alias_nodes:,} nodes "
                f"(at alias *{event.anchor}; KEEL_YAML_ALIAS_NODES)",
                event.start_mark,
            )


def compose(loader: BoundedLoader) -> yaml.Node | None:
    """Compose the single document of ``loader``, turning too deep nesting into a YAML error."""
    try:
        return loader.get_single_node()
    except RecursionError:
        raise YamlLimitError("the document is nested too deeply", loader.get_mark()) from None


def load(
    text: str | bytes,
    *,
    max_alias_nodes: int = DEFAULT_ALIAS_NODES,
    loader: type[BoundedLoader] = BoundedLoader,
) -> Any:
    """Parse one YAML document safely (``yaml.safe_load`` with Keel's bounds).

    Raises:
        yaml.YAMLError: The text is not YAML, or a bound refuses it (a :class:`YamlLimitError`,
            with the line and column of the alias that passed the bound).
    """
    reader = loader(text)
    reader.max_alias_nodes = max_alias_nodes
    try:
        node = compose(reader)
        if node is None:
            return None
        try:
            return reader.construct_document(node)
        except RecursionError:
            raise YamlLimitError("the document is nested too deeply", node.start_mark) from None
    finally:
        reader.dispose()


def describe(exc: yaml.YAMLError) -> str:
    """Say what is wrong with a YAML text in one line, with its line and column when known."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid syntax"
        if mark is None:
            return what
        return f"{what} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc)


def _incomplete(node: yaml.Node) -> bool:
    # PyYAML sets a collection's end mark once its last child is composed: an alias to a node
    # without one is inside that node.
    return isinstance(node, yaml.CollectionNode) and node.end_mark is None


def _expanded_size(root: yaml.Node, sizes: dict[int, int]) -> int:
    """Count the nodes of ``root`` with every alias expanded (memoised per node object)."""
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if ready:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
