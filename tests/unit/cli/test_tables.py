"""Tables of the service commands: unique id prefixes, and fitting a width without cutting ids."""

from __future__ import annotations

import io

from rich.console import Console

from keel.cli.tables import MIN_FLEXIBLE, fitted, id_width, short_time, table, took


def render(width: int, rows: list[tuple[str, ...]], *flexible: str) -> list[str]:
    shown = table("run", "workflow", "status", "description")
    for row in rows:
        shown.add_row(*row)
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(fitted(shown, width, *flexible))
    return console.export_text().splitlines()


def test_id_width_is_the_shortest_unique_prefix_of_at_least_twelve() -> None:
    assert id_width(["run-aaaa", "run-bbbb"]) == 8  # ids shorter than twelve stay whole
    ids = ["wh-wf_0123456789abcdef-aaaa1", "wh-wf_0123456789abcdef-aaaa2"]
    assert id_width(ids) == len(ids[0])
    ids = [f"run-{c}{'0' * 31}" for c in "abc"]
    assert id_width(ids) == 12 and len({i[:12] for i in ids}) == 3
    assert id_width(["run-0123456789-same"] * 2) == 12  # the same id twice is still one
    assert id_width([]) == 12


def test_only_flexible_columns_give_way_and_ids_stay_whole() -> None:
    run_id = "run-0123456789ab"
    lines = render(
        60,
        [(run_id, "a_very_long_workflow_alias_indeed", "succeeded", "x" * 80)],
        "workflow",
        "description",
    )
    assert all(len(line) <= 60 for line in lines)
    assert run_id in lines[1] and "succeeded" in lines[1]
    assert "…" in lines[1]


def test_narrow_flexible_columns_keep_their_width() -> None:
    lines = render(80, [("run-1", "short", "failed", "y" * 200)], "workflow", "description")
    assert "short" in lines[1] and all(len(line) <= 80 for line in lines)
    # The long one takes the rest of the width, down to no less than MIN_FLEXIBLE.
    assert lines[1].count("y") >= MIN_FLEXIBLE


def test_times_and_durations_have_units() -> None:
    assert short_time("2026-11-29T03:41:40.123456+00:00") == "11-29 03:41:40"
    assert short_time(None) == ""
    start = "2026-11-29T03:41:40+00:00"
    assert took(start, "2026-11-29T03:41:40.250000+00:00") == "250ms"
    assert took(start, "2026-11-29T03:41:52.400000+00:00") == "12.4s"
    assert took(start, "2026-11-29T03:44:45+00:00") == "3m05s"
    assert took(start, "2026-11-29T05:51:40+00:00") == "2h10m"
    assert took(start, None) == ""
