"""The regions ``keel runs show`` prints, folded from the streams ``GET /runs/{id}`` lists."""

from __future__ import annotations

from typing import Any

from keel.cli.regions import MAX_FAILED_SHOWN, region_lines, regions


def stream(path: str, status: str = "succeeded", error: str | None = None) -> dict[str, Any]:
    return {"stream": path, "status": status, "error": error}


def test_nested_regions_each_count_their_own_streams_by_their_worst_action() -> None:
    actions = [
        {"ref": "items", "streams": [stream("passes#0"), stream("passes#1")]},
        {
            "ref": "cell",
            "streams": [
                stream(f"passes#{p}/items[{i}]", *(("failed", "KeyError: 'x'") if p else ()))
                for p in (0, 1)
                for i in (0, 1)
            ],
        },
        {"ref": "after", "streams": [stream("passes#1/items[0]", "skipped")]},
        {"ref": "row", "streams": [stream("passes#0"), stream("passes#1", "running")]},
        {"ref": "plain", "streams": []},
    ]
    found = regions(actions)
    assert [(r.opener, r.kind, len(r.streams)) for r in found] == [
        ("passes", "loop", 2),
        ("items", "scatter", 4),
    ]
    assert region_lines(found, 80) == [
        "  passes (loop): 2 passes: 1 running, 1 succeeded",
        "  items (scatter): 4 items: 2 failed, 2 succeeded",
        "    passes#1 item 0, cell:",
        "      KeyError: 'x'",
        "    passes#1 item 1, cell:",
        "      KeyError: 'x'",
    ]


def test_every_line_fits_the_width_and_many_failures_are_counted() -> None:
    opener = "a_scatter_whose_ref_is_much_longer_than_any_terminal_line_would_hold_at_all"
    error = "HTTPError: " + "the service answered 500 with a long body " * 10
    actions = [
        {"ref": "call", "streams": [stream(f"{opener}[{i}]", "failed", error) for i in range(15)]}
    ]
    lines = region_lines(regions(actions), 60)
    assert all(len(line) <= 60 for line in lines), lines
    assert lines[0].endswith(" (scatter): 15 items: 15 failed") and "..." in lines[0]
    assert lines[1] == "    item 0, call:" and lines[2].startswith("      HTTPError: the")
    assert len([line for line in lines if line.endswith(", call:")]) == MAX_FAILED_SHOWN
    assert lines[-1] == "    ... 5 more failed (keel runs show --json)"
