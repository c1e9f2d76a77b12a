"""Finds the cycles of a directed graph, one readable cycle per strongly connected component."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence


def find_cycles(nodes: Sequence[str], successors: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Return one cycle per strongly connected component with more than one node.

    Each cycle starts at the component's node that comes first in ``nodes``, follows successors
    (preferring those earlier in ``nodes``) and ends where it started: ``["a", "b", "c", "a"]``.
    Self-loops are not reported (callers check those separately). Cycles come in ``nodes`` order.
    """
    position = {node: i for i, node in enumerate(nodes)}
    cycles = []
    for component in _components(nodes, successors):
        if len(component) > 1:
            start = min(component, key=position.__getitem__)
            cycles.append(_cycle_through(start, component, successors, position))
    return sorted(cycles, key=lambda cycle: position[cycle[0]])


def _components(nodes: Sequence[str], successors: Mapping[str, Sequence[str]]) -> list[set[str]]:
    """Return the strongly connected components (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_through(
    start: str,
    component: set[str],
    successors: Mapping[str, Sequence[str]],
    position: Mapping[str, int],
) -> list[str]:
    """Return a path from ``start`` back to itself inside ``component`` (depth first)."""
    path = [start]
    visited = {start}
    branches = [_ordered(start, component, successors, position)]
    while branches:
        child = next(branches[-1], None)
        if child is None:
            branches.pop()
            path.pop()
        elif child == start:
            return [*path, start]
        elif child not in visited:
            visited.add(child)
            path.append(child)
            branches.append(_ordered(child, component, successors, position))
    return [start, start]  # unreachable for a strongly connected component


def _ordered(
    node: str,
    component: set[str],
    successors: Mapping[str, Sequence[str]],
    position: Mapping[str, int],
) -> Iterator[str]:
    children = sorted(
        (c for c in successors.get(node, ()) if c in component), key=position.__getitem__
    )
    return iter(children)
