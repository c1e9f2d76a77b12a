"""Regions in the service: refused at commit with file lines, and each item/pass in GET /runs/{id}."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.flows import committed, create, finished, start

pytestmark = pytest.mark.integration

REGIONS = """title: regions
description: a scatter inside a loop of two passes
actions:
  - ref: passes
    action: core.loop.start
  - ref: items
    action: core.transform.scatter
    depends_on: [passes]
    args: {collection: [1, 2]}
  - ref: cell
    action: core.transform.reshape
    depends_on: [items]
    args: {value: "${{ ACTIONS.items.result * 10 + ACTIONS.passes.result.iteration }}"}
  - ref: row
    action: core.transform.gather
    depends_on: [cell]
    args: {items: "${{ ACTIONS.cell.result }}"}
  - ref: again
    action: core.loop.end
    depends_on: [row]
    args: {condition: "${{ ACTIONS.passes.result.iteration < 1 }}"}
returns: ${{ ACTIONS.again.result }}
"""

CROSSING = """title: crossing
description: a loop end that would close a scatter
actions:
  - ref: passes
    action: core.loop.start
  - ref: items
    action: core.transform.scatter
    depends_on: [passes]
    args: {collection: [1]}
  - ref: again
    action: core.loop.end
    depends_on: [items]
    args: {condition: false}
"""


async def test_each_item_of_each_pass_is_in_the_run_record(api: httpx.AsyncClient) -> None:
    workflow = await committed(api, REGIONS)
    detail = await finished(api, await start(api, workflow, {}))
    assert detail["status"] == "succeeded", detail
    actions = {a["ref"]: a for a in detail["actions"]}
    cells = {s["stream"]: s["result"] for s in actions["cell"]["streams"]}
    assert cells == {
        "passes#0/items[0]": 10,
        "passes#0/items[1]": 20,
        "passes#1/items[0]": 11,
        "passes#1/items[1]": 21,
    }
    assert [s["result"] for s in actions["row"]["streams"]] == [[10, 20], [11, 21]]
    assert actions["again"]["result"] == {"continue": False, "iterations": 2}


async def test_crossing_regions_are_refused_at_commit_with_their_line(
    api: httpx.AsyncClient,
) -> None:
    workflow = await create(api, CROSSING)
    refused = await api.post(f"/workflows/{workflow}/commit")
    assert refused.status_code == 422
    [problem] = [p for p in refused.json()["error"]["problems"] if p["severity"] == "error"]
    assert problem["ref"] == "again" and problem["line"] == 11
    assert "regions cannot cross" in problem["message"]
