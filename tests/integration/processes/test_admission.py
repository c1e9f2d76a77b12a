"""The admission queue of an orchestrating ``keel api`` process, through its real ``/wait`` route.

The service app of one API process (what uvicorn serves) against the session's dev server and a
SQLite store, with room for one inline run at a time (``KEEL_API_INLINE_RUNS=1``): a run that
waits on a 4-second timer takes the only place first; a quick run delivered after it waits for
that place while the slow run holds it (a hold longer than the timer), and finishes long before
the slow run once the slow run gives the place up after half a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keel.processes.service import ServiceApp
from keel.store import apikeys
from tests.integration.processes.service_apps import opened_service

pytestmark = pytest.mark.integration

SLOW = """\
title: slow
description: a pure run that waits on a timer before its one transform
triggers:
  - {type: webhook, ref: hook}
actions:
  - ref: pause
    action: core.transform.reshape
    start_delay: 4
    args: {value: slow}
returns: ${{ ACTIONS.pause.result }}
"""

QUICK = """\
title: quick
description: one transform
triggers:
  - {type: webhook, ref: hook}
actions:
  - ref: shout
    action: core.transform.reshape
    args: {value: "${{ FN.uppercase(TRIGGER.word) }}"}
returns: ${{ ACTIONS.shout.result }}
"""


@pytest.fixture
async def service(
    request: pytest.FixtureRequest, tmp_path: Path, temporal_server: object, task_queue: str
) -> AsyncIterator[ServiceApp]:
    """One API process's app with one place for inline runs, held ``request.param`` seconds."""
    address = temporal_server.address  # type: ignore[attr-defined]
    hold = getattr(request, "param", 0.5)
    async with opened_service(
        tmp_path, address, task_queue, api_inline_runs=1, api_inline_hold_seconds=hold
    ) as app:
        yield app


@pytest.fixture
async def http(service: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    assert service.app is not None
    state = service.app.state.keel
    async with state.database.session() as session:
        key = (await apikeys.create_api_key(session, "tests")).key
    transport = httpx.ASGITransport(app=service.app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://keel.test", headers=headers, timeout=60
    ) as client:
        yield client


async def _webhook(http: httpx.AsyncClient, text: str, alias: str) -> str:
    applied = await http.post("/workflows/apply", json={"yaml": text, "alias": alias})
    assert applied.status_code in (200, 201), applied.text
    url: str = applied.json()["webhook_url"]
    return "/webhooks/" + url.split("/webhooks/", 1)[1]


async def _slow_then_quick(
    service: ServiceApp, http: httpx.AsyncClient
) -> tuple[asyncio.Task[httpx.Response], asyncio.Task[httpx.Response]]:
    """Deliver the slow run, then (once it holds the only place) the quick one; both waited."""
    assert service.app is not None
    state = service.app.state.keel
    assert state.admission.limit == 1 and state.orchestrates_here(inline=True)
    slow_path = await _webhook(http, SLOW, "slow")
    quick_path = await _webhook(http, QUICK, "quick")
    # The process's first run warms it up, so the quick run below is only the queue's.
    warm = await http.post(quick_path + "/wait", json={"word": "warm"})
    assert warm.json()["result"] == "WARM"
    slow = asyncio.create_task(http.post(slow_path + "/wait", json={}))
    await asyncio.sleep(0.2)  # the slow run has the only place now
    quick = asyncio.create_task(http.post(quick_path + "/wait", json={"word": "next"}))
    return slow, quick


@pytest.mark.parametrize("service", [30.0], indirect=True)
async def test_a_quick_inline_run_waits_for_the_place_a_slow_one_holds(
    service: ServiceApp, http: httpx.AsyncClient
) -> None:
    slow, quick = await _slow_then_quick(service, http)
    done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {slow}, "the quick run did not wait for the only place"
    answer = (await quick).json()
    assert (answer["status"], answer["result"]) == ("succeeded", "NEXT")


async def test_a_slow_inline_run_gives_its_place_up_to_a_quick_one(
    service: ServiceApp, http: httpx.AsyncClient
) -> None:
    slow, quick = await _slow_then_quick(service, http)
    done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {quick}, "the quick run waited for the slow one to finish"
    answer = (await quick).json()
    assert (answer["status"], answer["result"]) == ("succeeded", "NEXT")
    slow_answer = (await slow).json()
    assert (slow_answer["status"], slow_answer["result"]) == ("succeeded", "slow")


async def test_inline_runs_past_the_limit_queue_and_all_finish(
    service: ServiceApp, http: httpx.AsyncClient
) -> None:
    quick_path = await _webhook(http, QUICK, "quick")
    answers = await asyncio.gather(
        *(http.post(quick_path + "/wait", json={"word": f"w{n}"}) for n in range(12))
    )
    assert [a.json()["result"] for a in answers] == [f"W{n}" for n in range(12)]
