"""What GET /runs/{id} says about a run's input, result and definition, and for_each items."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.flows import FAILING, FIXED, committed, finished, start

pytestmark = pytest.mark.integration

ITEMS = """\
title: Items
description: one item per number; 0 fails
entrypoint:
  ref: numbers
  expects:
    numbers: {type: "list[int]"}
    divisors: {type: "list[int]", default: [5, 0, 2]}
actions:
  - ref: numbers
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.numbers }}"}
  - ref: doubled
    action: core.transform.reshape
    depends_on: [numbers]
    for_each: ${{ for var.n in ACTIONS.numbers.result }}
    args: {value: "${{ var.n * 2 }}"}
  - ref: divided
    action: core.transform.apply
    depends_on: [doubled]
    run_if: ${{ FN.length(ACTIONS.doubled.result) > 0 }}
    for_each: ${{ for var.n in TRIGGER.divisors }}
    args: {value: "${{ var.n }}", python_lambda: "lambda n: 10 // n"}
  - ref: report
    action: core.transform.reshape
    depends_on: [divided.error]
    args: {value: "${{ ACTIONS.divided.error }}"}
"""

MASKED = """\
title: Masked
description: a masked token feeds a loop and the result
actions:
  - ref: token
    action: core.transform.reshape
    mask_output: true
    args: {value: ["s3cr3t-a", "s3cr3t-b"]}
  - ref: each
    action: core.transform.reshape
    depends_on: [token]
    mask_output: true
    for_each: ${{ for var.t in ACTIONS.token.result }}
    args: {value: "${{ var.t }}"}
returns: ${{ ACTIONS.each.result }}
"""


async def test_detail_has_input_result_definition_and_dag(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "doubler")
    execution_id = await start(api, "doubler", {"n": 4})
    detail = await finished(api, execution_id)

    assert detail["status"] == "succeeded"
    assert detail["input"] == {"n": 4, "label": "none"}
    assert detail["result"] == {"doubled": 8, "label": "none"}
    assert detail["version"] == 1
    assert [a["ref"] for a in detail["definition"]["actions"]] == ["first", "second"]
    assert detail["dag"]["nodes"][0] == {
        "ref": "first",
        "action": "core.transform.reshape",
        "for_each": None,
        "run_if": None,
        "join_strategy": "all",
        "root": True,
    }
    assert detail["dag"]["edges"] == [
        {
            "source": "first",
            "target": "second",
            "kind": "success",
            "condition": None,
            "label": "success",
        }
    ]
    second = detail["actions"][1]
    assert second["args"] == {
        "value": {"doubled": "${{ ACTIONS.first.result }}", "label": "${{ TRIGGER.label }}"}
    }
    assert second["for_each"] is False


async def test_failed_run_has_no_result(api: httpx.AsyncClient) -> None:
    await committed(api, FAILING, "divider")
    detail = await finished(api, await start(api, "divider", {"d": 0}))
    assert detail["status"] == "failed"
    assert detail["input"] == {"d": 0}
    assert detail["result"] is None


async def test_for_each_items_paged_and_filtered(api: httpx.AsyncClient) -> None:
    await committed(api, ITEMS, "items")
    numbers = [5, 0, *range(1, 249)]
    detail = await finished(api, await start(api, "items", {"numbers": numbers}), timeout=120)
    assert detail["status"] == "succeeded"  # the error path (report) handled the failure
    edges = {(e["source"], e["target"]): e for e in detail["dag"]["edges"]}
    assert edges["numbers", "doubled"]["label"] == "success"
    assert (
        edges["doubled", "divided"]["condition"] == "${{ FN.length(ACTIONS.doubled.result) > 0 }}"
    )
    assert edges["doubled", "divided"]["label"] == "success + run_if"
    assert edges["divided", "report"]["kind"] == "error"
    assert [a["for_each"] for a in detail["actions"]] == [False, True, True, False]

    url = f"/runs/{detail['execution_id']}/actions/doubled/items"
    first = (await api.get(url, params={"limit": 100})).json()
    assert first["total"] == 250 and first["counts"] == {"succeeded": 250}
    assert first["offset"] == 0 and first["next_offset"] == 100
    assert first["items"][0]["input"] == {"n": 5} and first["items"][0]["result"] == 10
    assert first["items"][0]["attempts"] == 1 and first["items"][0]["status"] == "succeeded"
    seen = [i["index"] for i in first["items"]]
    offset = first["next_offset"]
    while offset is not None:
        page = (await api.get(url, params={"limit": 100, "offset": offset})).json()
        seen += [i["index"] for i in page["items"]]
        offset = page["next_offset"]
    assert seen == list(range(250))

    divided = f"/runs/{detail['execution_id']}/actions/divided/items"
    failed = (await api.get(divided, params={"status": "failed"})).json()
    assert failed["total"] == 1 and failed["next_offset"] is None
    [item] = failed["items"]
    assert item["index"] == 1 and item["input"] == {"n": 0}
    assert "ZeroDivisionError" in item["error"] and item["result"] is None
    assert sum(failed["counts"].values()) == 3 and failed["counts"]["failed"] == 1


async def test_items_errors(api: httpx.AsyncClient) -> None:
    await committed(api, ITEMS, "items")
    execution_id = await start(api, "items", {"numbers": [1]})
    await finished(api, execution_id)
    not_a_loop = await api.get(f"/runs/{execution_id}/actions/numbers/items")
    assert not_a_loop.status_code == 404
    assert "no for_each action 'numbers'" in not_a_loop.json()["error"]["message"]
    unknown = await api.get(f"/runs/{execution_id}/actions/nope/items")
    assert unknown.status_code == 404
    no_run = await api.get("/runs/no-such-run/actions/doubled/items")
    assert no_run.status_code == 404
    bad_status = await api.get(
        f"/runs/{execution_id}/actions/doubled/items", params={"status": "exploded"}
    )
    assert bad_status.status_code == 422
    too_many = await api.get(f"/runs/{execution_id}/actions/doubled/items", params={"limit": 501})
    assert too_many.status_code == 422


async def test_masked_values_stay_masked(api: httpx.AsyncClient) -> None:
    await committed(api, MASKED, "masked")
    detail = await finished(api, await start(api, "masked"))
    assert detail["status"] == "succeeded"
    assert detail["result"] == "***"
    assert [a["result"] for a in detail["actions"]] == ["***", "***"]
    page = (await api.get(f"/runs/{detail['execution_id']}/actions/each/items")).json()
    assert [(i["input"], i["result"]) for i in page["items"]] == [("***", "***")] * 2


async def test_list_filters_by_trigger(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "doubler")
    execution_id = await start(api, "doubler", {"n": 1})
    await finished(api, execution_id)
    by_api = (await api.get("/runs", params={"trigger": "api"})).json()["items"]
    assert [r["execution_id"] for r in by_api] == [execution_id]
    assert (await api.get("/runs", params={"trigger": "webhook"})).json()["items"] == []
    bad = await api.get("/runs", params={"trigger": "carrier-pigeon"})
    assert bad.status_code == 422
