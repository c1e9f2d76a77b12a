"""Input bounds: the depth walk, the NDJSON cap and line numbers, and the settings behind them."""

from __future__ import annotations

from typing import Any

import pytest

from keel.config import Settings
from keel.errors import WebhookError
from keel.triggers.bounds import InputBounds, too_deep
from keel.triggers.payloads import parse_payload

JSON = "application/json"
NDJSON = "application/x-ndjson"


def arrays(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_depth_counts_objects_and_arrays_not_scalars() -> None:
    assert not too_deep(1, 0)
    assert not too_deep({}, 1) and too_deep({}, 0)
    assert not too_deep({"a": [1, 2]}, 2) and too_deep({"a": [1, 2]}, 1)
    assert too_deep([1, [2, {"b": {}}]], 3) and not too_deep([1, [2, {"b": {}}]], 4)
    # Deeper than Python's recursion limit: the walk keeps its own stack.
    assert too_deep(arrays(5000), 64) and not too_deep(arrays(5000), 5000)


def test_json_bodies_deeper_than_the_bound_are_a_400() -> None:
    bounds = InputBounds(max_json_depth=3)
    assert parse_payload(b"[[[1]]]", JSON, bounds) == [[[[1]]]]
    for content_type in (JSON, "application/vnd.x+json", None):
        with pytest.raises(WebhookError) as raised:
            parse_payload(b"[[[[1]]]]", content_type, bounds)
        assert raised.value.status == 400
        assert str(raised.value) == (
            "body is nested more than 3 levels deep (the limit is KEEL_MAX_JSON_DEPTH)"
        )
    # Text, forms and very deep untyped bodies (not JSON to Python) stay text.
    assert parse_payload(b"[" * 5000, None, bounds) == ["[" * 5000]


def test_ndjson_lines_are_each_bounded_and_named() -> None:
    bounds = InputBounds(max_json_depth=2, max_runs_per_request=3)
    assert parse_payload(b'{"a": [1]}\n\n[2]\n', NDJSON, bounds) == [{"a": [1]}, [2]]
    with pytest.raises(WebhookError, match=r"^line 3 is nested more than 2 levels deep"):
        parse_payload(b'{"a": 1}\n\n[[[3]]]\n', NDJSON, bounds)
    with pytest.raises(WebhookError, match=r"^line 2 is not valid JSON: it is nested too deeply"):
        parse_payload(b"1\n" + b"[" * 100_000 + b"\n", NDJSON, bounds)


def test_ndjson_over_the_cap_is_a_413_before_any_line_is_parsed() -> None:
    bounds = InputBounds(max_runs_per_request=3)
    assert len(parse_payload(b"1\n2\n\n3\n", NDJSON, bounds)) == 3
    with pytest.raises(WebhookError) as raised:
        parse_payload(b"1\n2\n3\n{broken\n", NDJSON, bounds)  # counted, not parsed
    assert raised.value.status == 413
    assert "4 NDJSON lines, more than the limit of 3 runs per request" in str(raised.value)
    assert "KEEL_MAX_RUNS_PER_REQUEST" in str(raised.value)


def test_bounds_come_from_the_settings_and_the_depth_has_a_ceiling() -> None:
    defaults = InputBounds()
    assert (defaults.max_json_depth, defaults.max_body_bytes, defaults.max_runs_per_request) == (
        64,
        1024 * 1024,
        100,
    )
    settings = Settings(max_json_depth=10, max_body_bytes=4096, max_runs_per_request=7)
    assert InputBounds.from_settings(settings) == InputBounds(10, 4096, 7)
    # Past ~490 levels Temporal's JSON converter overflows; the setting stops well before.
    with pytest.raises(ValueError, match="max_json_depth"):
        Settings(max_json_depth=201)
    with pytest.raises(ValueError, match="max_runs_per_request"):
        Settings(max_runs_per_request=0)
