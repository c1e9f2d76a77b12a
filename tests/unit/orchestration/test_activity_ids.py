"""Activity ids of actions: named by their stream, ref and attempt, within Temporal's limit."""

from __future__ import annotations

from keel.orchestration.action_runner import ACTIVITY_ID_TAIL, activity_id
from keel.orchestration.children import TEMPORAL_MAX_ID


def test_an_id_within_the_limit_is_the_stream_ref_and_attempt() -> None:
    assert activity_id("scan[3]/call[0]", 2) == "scan[3]/call[0]#2"
    where = "s" * (TEMPORAL_MAX_ID - 2)
    assert activity_id(where, 1) == f"{where}#1"  # exactly at the limit: unchanged


def test_a_longer_id_is_shortened_the_same_way_every_time() -> None:
    where = "/".join(f"level_{n}_{'x' * 110}[0]" for n in range(9)) + "/call"
    shortened = activity_id(where, 7)
    assert len(shortened) <= TEMPORAL_MAX_ID
    assert shortened == activity_id(where, 7)  # a replay issues the same command
    assert shortened.endswith(where[-ACTIVITY_ID_TAIL:] + "#7")
    assert activity_id(where, 8) != shortened


def test_streams_that_share_their_end_keep_distinct_ids() -> None:
    tail = "/".join(f"inner_{n}_{'y' * 110}[0]" for n in range(4)) + "/call"
    first = activity_id("a" * 600 + "[0]/" + tail, 1)
    second = activity_id("b" * 600 + "[0]/" + tail, 1)
    assert first != second
    assert first.split("~", 1)[1] == second.split("~", 1)[1]  # same kept end, other digest
