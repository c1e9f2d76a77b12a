"""The start-up heap of keel api and keel worker processes, frozen out of collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from keel.processes.heap import freeze_startup_heap
from keel.processes.service import ServiceApp, create_service_app


class _Node:
    """An object that can take part in a reference cycle and be weakly referenced."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """Make two objects that only refer to each other; return a weak reference to one."""
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


@pytest.fixture
def thawed() -> Iterator[None]:
    """Give the test process's heap back to the collector afterwards."""
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("thawed")
def test_it_collects_the_starts_garbage_then_freezes_what_lives() -> None:
    garbage = _cycle()  # a cycle left by the start: collected before the freeze, not kept
    kept = _Node()
    frozen = freeze_startup_heap()
    assert garbage() is None
    assert frozen == gc.get_freeze_count() > 0
    # what lives is in the permanent generation, which no collection walks
    assert gc.is_tracked(kept)
    assert not any(one is kept for one in gc.get_objects())


@pytest.mark.usefixtures("thawed")
def test_objects_made_after_the_freeze_are_collected_as_before() -> None:
    freeze_startup_heap()
    later = _cycle()
    assert later() is not None  # only reachable from its own cycle
    gc.collect()
    assert later() is None


def test_only_a_process_of_its_own_freezes_its_heap() -> None:
    # uvicorn's factory builds the app of a keel api server process; an app opened inside
    # another program (a test, an embedding) leaves that program's collector alone.
    assert create_service_app().freeze_heap is True
    assert ServiceApp(create_service_app().settings).freeze_heap is False
