"""What a run page's action panel lists of the streams of an action inside a region."""

from __future__ import annotations

from typing import Any

from keel.console.run_pages import STREAMS_SHOWN, _streams


def _stream(n: int, status: str) -> dict[str, Any]:
    return {"stream": f"items[{n}]", "status": status, "attempts": 1, "result": n, "error": None}


def test_failed_streams_come_first_and_the_rest_are_counted() -> None:
    streams = [_stream(n, "failed" if n % 7 == 3 else "succeeded") for n in range(120)]
    run = {
        "actions": [
            {"ref": "plain", "streams": []},
            {"ref": "cell", "streams": streams},
        ]
    }
    views = _streams(run)
    assert list(views) == ["cell"]  # an action outside every region has no streams view
    view = views["cell"]
    failed = [s["stream"] for s in streams if s["status"] == "failed"]
    assert view["counts"] == {"failed": len(failed), "succeeded": 120 - len(failed)}
    assert list(view["counts"]) == ["failed", "succeeded"]
    assert [r["stream"] for r in view["rows"][: len(failed)]] == failed
    assert view["rows"][len(failed)]["stream"] == "items[0]"  # then in the run's order
    assert len(view["rows"]) == STREAMS_SHOWN
    assert view["hidden"] == 120 - STREAMS_SHOWN
