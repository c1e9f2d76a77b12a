"""Child workflows in the service: resolved from the store, checked at commit, lineage in the API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

CHILD = """title: child
description: doubles n
entrypoint:
  expects: {n: {type: int}}
actions:
  - ref: out
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.n * 2 }}"}
returns: ${{ ACTIONS.out.result }}
"""

PARENT = """title: parent
description: calls child per item
actions:
  - ref: items
    action: core.transform.reshape
    args: {value: [1, 2]}
  - ref: kids
    action: core.workflow.execute
    depends_on: [items]
    for_each: ${{ for var.n in ACTIONS.items.result }}
    args: {workflow_alias: child, trigger_inputs: {n: "${{ var.n }}"}}
returns: ${{ ACTIONS.kids.result }}
"""


async def commit(api: httpx.AsyncClient, alias: str, text: str) -> httpx.Response:
    created = await api.post("/workflows", json={"yaml": text, "alias": alias})
    assert created.status_code in (200, 201), created.text
    return await api.post(f"/workflows/{alias}/commit")


async def finished(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(100):
        detail: dict[str, Any] = (await api.get(f"/runs/{run_id}")).json()
        if detail["status"] not in ("running", "unknown"):
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


async def test_a_parent_runs_committed_children_and_shows_its_lineage(
    api: httpx.AsyncClient,
) -> None:
    assert (await commit(api, "child", CHILD)).status_code == 201
    committed = await commit(api, "parent", PARENT)
    assert committed.status_code == 201, committed.text
    started = await api.post("/workflows/parent/runs", json={"inputs": {}})
    assert started.status_code == 202, started.text
    run_id = started.json()["execution_id"]
    detail = await finished(api, run_id)
    assert detail["status"] == "succeeded"
    assert [(c["action"], c["status"]) for c in detail["child_runs"]] == [
        ("kids", "succeeded"),
        ("kids", "succeeded"),
    ]
    child = (await api.get(f"/runs/{detail['child_runs'][0]['execution_id']}")).json()
    assert child["parent"] == run_id and child["parent_action"] == "kids"


async def test_an_alias_not_committed_yet_is_a_warning(api: httpx.AsyncClient) -> None:
    committed = await commit(api, "parent", PARENT)
    assert committed.status_code == 201, committed.text
    warnings = committed.json()["warnings"]
    assert any("no workflow 'child' exists yet" in w["message"] for w in warnings)


async def test_an_unknown_workflow_id_refuses_the_commit(api: httpx.AsyncClient) -> None:
    refused = await commit(
        api, "parent", PARENT.replace("workflow_alias: child", "workflow_id: wf_nope")
    )
    assert refused.status_code == 422
    problems = refused.json()["error"]["problems"]
    assert problems[0]["ref"] == "kids" and problems[0]["field"] == "args.workflow_id"


async def test_a_chain_of_waits_back_to_itself_refuses_the_commit(api: httpx.AsyncClient) -> None:
    ping = PARENT.replace("workflow_alias: child", "workflow_alias: pong")
    pong = PARENT.replace("workflow_alias: child", "workflow_alias: ping")
    assert (await commit(api, "ping", ping)).status_code == 201  # pong unknown yet: a warning
    refused = await commit(api, "pong", pong)
    assert refused.status_code == 422
    message = refused.json()["error"]["problems"][0]["message"]
    assert "pong -> ping -> pong" in message
    detached = pong.replace(
        "args: {workflow_alias: ping,", "args: {wait_strategy: detach, workflow_alias: ping,"
    )
    draft = await api.put("/workflows/pong/draft", json={"yaml": detached})
    assert draft.status_code == 200, draft.text
    assert (await api.post("/workflows/pong/commit")).status_code == 201
