"""A webhook's target, kept moments after a delivery, follows every change made through the API.

The API keeps a live target for ``KEEL_WEBHOOK_CACHE_SECONDS`` (:mod:`keel.api.webhook_targets`).
Through the same process, a new version, a rotation or a deletion applies to the very next
delivery; another API process over the same store sees it once its own
interval has passed.
"""

from __future__ import annotations

import httpx
import pytest

from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.api.webhook_targets import TargetCache
from tests.e2e.conftest import BASE_URL, commit, path_of

pytestmark = pytest.mark.integration

FLOW = """\
title: Versioned
description: says which version ran
triggers:
  - {{type: webhook, ref: hook}}
actions:
  - ref: say
    action: core.transform.reshape
    args: {{value: "v{n}"}}
returns: ${{{{ ACTIONS.say.result }}}}
"""


async def test_changes_through_this_process_apply_to_the_next_delivery(
    api: httpx.AsyncClient, service: ServiceState
) -> None:
    hook = path_of((await commit(api, FLOW.format(n=1), "versioned"))["webhook_url"])
    first = await api.post(hook + "/wait", json={})
    assert first.json()["result"] == "v1", first.text
    assert service.targets.get(hook.split("/")[2]) is not None  # kept

    await commit(api, FLOW.format(n=2), "versioned")  # a new version: runs use it at once
    assert (await api.post(hook + "/wait", json={})).json()["result"] == "v2"

    assert (await api.delete("/workflows/versioned")).status_code == 204
    assert (await api.post(hook, json={})).status_code == 404


async def test_another_process_sees_a_rotation_once_its_interval_passed(
    api: httpx.AsyncClient, service: ServiceState
) -> None:
    hook = path_of((await commit(api, FLOW.format(n=1), "versioned"))["webhook_url"])
    other = ServiceState(service.database, service.cipher, service.temporal, service.task_queue)
    other.targets = TargetCache(60.0)  # a long interval, to see the staleness it allows
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(other)), base_url=BASE_URL
    ) as elsewhere:
        assert (await elsewhere.post(hook + "/wait", json={})).json()["result"] == "v1"
        rotated = await api.post("/workflows/versioned/webhook/rotate")
        assert rotated.status_code == 200, rotated.text
        assert (await api.post(hook, json={})).status_code == 404  # this process: at once
        # The other process still answers the old URL until its interval passes...
        assert (await elsewhere.post(hook + "/wait", json={})).status_code == 200
        other.targets.clear()  # ...which is what clearing stands for here
        assert (await elsewhere.post(hook, json={})).status_code == 404
        new = path_of(rotated.json()["webhook_url"])
        assert (await elsewhere.post(new + "/wait", json={})).json()["result"] == "v1"
    await other.relay.close()
