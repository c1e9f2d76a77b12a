"""The API's short-lived cache of webhook targets (pure: a clock of the test's own)."""

from __future__ import annotations

from keel.api.webhook_targets import MAX_TARGETS, TargetCache


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_target_is_kept_for_its_interval_only() -> None:
    clock = _Clock()
    cache: TargetCache[str] = TargetCache(1.0, clock)
    cache.put("wf_a", "target a")
    assert cache.get("wf_a") == "target a"
    clock.now += 0.99
    assert cache.get("wf_a") == "target a"
    clock.now += 0.02
    assert cache.get("wf_a") is None
    assert cache.get("wf_a") is None  # gone, not revived


def test_zero_keeps_nothing_and_clear_forgets_all() -> None:
    off: TargetCache[str] = TargetCache(0.0, _Clock())
    off.put("wf_a", "target a")
    assert off.get("wf_a") is None
    on: TargetCache[str] = TargetCache(5.0, _Clock())
    on.put("wf_a", "target a")
    on.put("wf_b", "target b")
    on.clear()
    assert on.get("wf_a") is None and on.get("wf_b") is None


def test_the_oldest_go_first_past_the_bound() -> None:
    cache: TargetCache[int] = TargetCache(60.0, _Clock())
    for n in range(MAX_TARGETS + 2):
        cache.put(f"wf_{n}", n)
    assert cache.get("wf_0") is None and cache.get("wf_1") is None
    assert cache.get("wf_2") == 2
    assert cache.get(f"wf_{MAX_TARGETS + 1}") == MAX_TARGETS + 1
