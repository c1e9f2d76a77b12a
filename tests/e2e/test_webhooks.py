"""Webhooks end to end: HTTP in, checks, runs on Temporal, results back through the API."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest
from sqlalchemy import delete
from temporalio.client import Client

from keel.api.deliveries import wait_outcomes
from keel.api.launcher import RunOrder, start_runs
from keel.api.state import ServiceState
from keel.store.secrets import set_secret
from keel.store.tables import RunRow
from tests.e2e.conftest import commit, committed_runnable, eventually, path_of
from tests.integration.store.conftest import BACKENDS

pytestmark = pytest.mark.integration

ALERT = """\
title: Alert
description: doubles the severity of an alert
entrypoint:
  ref: double
  expects:
    severity: {type: int}
    source: {type: str, default: siem}
triggers:
  - type: webhook
    ref: inbound
    args:
      methods: [POST]
      wait_timeout_seconds: 10
      idempotency: {header: X-Delivery}
      colour: blue
actions:
  - ref: double
    action: core.transform.reshape
    args:
      value: {severity: "${{ TRIGGER.severity * 2 }}", source: "${{ TRIGGER.source }}"}
returns: ${{ ACTIONS.double.result }}
"""

SIGNED = """\
title: Signed
description: echoes a signed delivery
triggers:
  - type: webhook
    ref: hook
    args:
      signature:
        scheme: {scheme}
        secrets: ["${{{{ SECRETS.hooks.{scheme} }}}}"]
actions:
  - ref: echo
    action: core.transform.reshape
    args: {{value: "${{{{ TRIGGER }}}}"}}
returns: ${{{{ ACTIONS.echo.result }}}}
"""

STRICT = """\
title: Strict
description: echoes a checked delivery
entrypoint:
  expects:
    id: {type: int}
    level: {type: 'enum["low", "high"]'}
triggers:
  - type: webhook
    ref: hook
    args: {methods: POST, max_body_bytes: 64, allowlist: ["10.0.0.0/8"]}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
returns: ${{ ACTIONS.echo.result }}
"""

OPEN = STRICT.replace('allowlist: ["10.0.0.0/8"]', "wait_timeout_seconds: 0.5").replace(
    "max_body_bytes: 64", "max_body_bytes: 4096"
)

SLOW = """\
title: Slow
description: answers late
triggers:
  - {type: webhook, ref: hook, args: {wait_timeout_seconds: 0.3}}
actions:
  - ref: later
    action: core.transform.reshape
    start_delay: 5
    args: {value: done}
"""


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_webhook_starts_a_run_and_waits_for_its_result(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client
) -> None:
    committed = await commit(api, ALERT, "alert")
    assert committed["webhook_url"].startswith("http://keel.test/webhooks/")
    warnings = [w["message"] for w in committed["warnings"]]
    assert any("args.colour: unknown argument" in w for w in warnings), warnings
    hook = path_of(committed["webhook_url"])

    started = await api.post(hook, json={"severity": 3})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    detail = await eventually(lambda: _ended(api, execution_id))
    assert detail["status"] == "succeeded"
    assert detail["actions"][0]["result"] == {"severity": 6, "source": "siem"}
    listed = (await api.get("/runs", params={"workflow": "alert"})).json()["items"]
    assert [(r["execution_id"], r["trigger_type"]) for r in listed] == [(execution_id, "webhook")]

    waited = await api.post(hook + "/wait", json={"severity": 5, "source": "edr"})
    assert waited.status_code == 200, waited.text
    body = waited.json()
    assert body["status"] == "succeeded"
    assert body["result"] == {"severity": 10, "source": "edr"}

    # A redelivery (same X-Delivery) answers with the first run and starts nothing.
    first = await api.post(hook, json={"severity": 1}, headers={"X-Delivery": "d-1"})
    again = await api.post(hook + "/wait", json={"severity": 1}, headers={"X-Delivery": "d-1"})
    assert first.status_code == 202 and again.status_code == 200, again.text
    keyed = first.json()["execution_id"]
    assert again.json()["execution_id"] == keyed and again.json()["result"]["severity"] == 2
    executions = [e async for e in temporal_client.list_workflows(f"WorkflowId = '{keyed}'")]
    assert len(executions) == 1
    rows = (await api.get("/runs", params={"workflow": "alert"})).json()["items"]
    assert [r["execution_id"] for r in rows].count(keyed) == 1


async def test_a_waited_run_is_waited_for_by_the_run_its_start_named(
    api: httpx.AsyncClient, service: ServiceState
) -> None:
    # The handle of each start names the run id Temporal gave it, so the wait reads that run's
    # history directly (no lookup of the workflow's current run on the server: one store read
    # less per /wait delivery, on a store the dev server reaches through one connection).
    target = await committed_runnable(api, service, ALERT, "alert")
    orders = [RunOrder({"severity": n, "source": "edr"}) for n in (1, 2)]
    runs = await start_runs(service, target, orders, trigger_type="webhook", wait=True)
    for run in runs:
        assert run.started and run.handle.result_run_id is not None
        described = await run.handle.describe()
        assert (described.id, described.run_id) == (run.execution_id, run.handle.result_run_id)
    outcomes = await wait_outcomes(runs, timeout=20)
    assert outcomes is not None
    assert [(o.execution_id, o.status, o.result) for o in outcomes] == [
        (runs[0].execution_id, "succeeded", {"severity": 2, "source": "edr"}),
        (runs[1].execution_id, "succeeded", {"severity": 4, "source": "edr"}),
    ]


async def test_hmac_signatures(api: httpx.AsyncClient, service: ServiceState) -> None:
    async with service.database.session() as session:
        values = {"github": "gh-secret", "stripe": "whsec_test"}
        await set_secret(session, service.cipher, "hooks", values)
    github = path_of((await commit(api, SIGNED.format(scheme="github"), "gh"))["webhook_url"])
    stripe = path_of((await commit(api, SIGNED.format(scheme="stripe"), "st"))["webhook_url"])
    body = b'{"action": "opened"}'
    headers = {"Content-Type": "application/json"}

    good = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    ok = await api.post(
        github + "/wait", content=body, headers={**headers, "X-Hub-Signature-256": good}
    )
    assert ok.status_code == 200 and ok.json()["result"] == {"action": "opened"}, ok.text
    bad = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()
    refused = await api.post(github, content=body, headers={**headers, "X-Hub-Signature-256": bad})
    assert refused.status_code == 401
    assert refused.json()["error"]["field"] == "signature"
    missing = await api.post(github, content=body, headers=headers)
    assert missing.status_code == 401

    now = int(time.time())
    signed = hmac.new(b"whsec_test", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    ok = await api.post(
        stripe, content=body, headers={**headers, "Stripe-Signature": f"t={now},v1={signed}"}
    )
    assert ok.status_code == 202, ok.text
    stale = now - 3600
    old = hmac.new(b"whsec_test", f"{stale}.".encode() + body, hashlib.sha256).hexdigest()
    refused = await api.post(
        stripe, content=body, headers={**headers, "Stripe-Signature": f"t={stale},v1={old}"}
    )
    assert refused.status_code == 401
    tampered = await api.post(
        stripe, content=body + b" ", headers={**headers, "Stripe-Signature": f"t={now},v1={signed}"}
    )
    assert tampered.status_code == 401


async def test_refusals_name_what_is_wrong(api: httpx.AsyncClient) -> None:
    strict = path_of((await commit(api, STRICT, "strict"))["webhook_url"])
    open_ = path_of((await commit(api, OPEN, "open"))["webhook_url"])
    workflow_id = strict.split("/")[2]

    wrong = await api.post(f"/webhooks/{workflow_id}/not-the-secret", json={})
    assert wrong.status_code == 404
    assert wrong.json()["error"]["message"] == "no webhook at this address"
    assert (await api.post("/webhooks/wf_unknown/x", json={})).status_code == 404

    not_allowed = await api.get(open_)
    assert not_allowed.status_code == 405 and not_allowed.headers["Allow"] == "POST"
    assert (await api.put(open_, json={})).status_code == 405

    forbidden = await api.post(strict, json={"id": 1, "level": "low"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["field"] == "client"

    too_big = await api.post(open_, content=b"x" * 5000, headers={"Content-Type": "text/plain"})
    assert too_big.status_code == 413

    malformed = await api.post(
        open_, content=b'{"id": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["field"] == "body"
    ndjson = {"Content-Type": "application/x-ndjson"}
    bad_line = await api.post(open_, content=b'{"id": 1, "level": "low"}\n{oops\n', headers=ndjson)
    assert bad_line.status_code == 400 and "line 2" in bad_line.json()["error"]["message"]

    mismatch = await api.post(open_, json={"id": "seven", "level": "urgent"})
    assert mismatch.status_code == 422
    error = mismatch.json()["error"]
    assert {p["field"] for p in error["problems"]} == {"body.id", "body.level"}
    assert (await api.get("/runs", params={"workflow": "open"})).json()["items"] == []


async def test_ndjson_starts_one_run_per_line(api: httpx.AsyncClient) -> None:
    hook = path_of((await commit(api, OPEN, "lines"))["webhook_url"])
    lines = b'{"id": 1, "level": "low"}\n\n{"id": 2, "level": "high"}\n'
    started = await api.post(hook, content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert started.status_code == 202, started.text
    ids = started.json()["execution_ids"]
    assert len(ids) == 2 and len(set(ids)) == 2
    waited = await api.post(
        hook + "/wait", content=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert [r["result"]["id"] for r in waited.json()["runs"]] == [1, 2]


async def test_wait_times_out_with_the_execution_id(api: httpx.AsyncClient) -> None:
    hook = path_of((await commit(api, SLOW, "slow"))["webhook_url"])
    answer = await api.post(hook + "/wait", json={})
    assert answer.status_code == 504
    execution_id = answer.json()["error"]["execution_id"]
    detail = (await api.get(f"/runs/{execution_id}")).json()
    assert detail["status"] == "running"
    await api.post(f"/runs/{execution_id}/terminate")


async def test_invalid_trigger_args_refuse_the_commit(api: httpx.AsyncClient) -> None:
    document = ALERT.replace("methods: [POST]", "methods: [POST]\n      max_body_bytes: -1")
    created = await api.post("/workflows", json={"yaml": document, "alias": "broken"})
    assert created.status_code == 201
    refused = await api.post("/workflows/broken/commit")
    assert refused.status_code == 422, refused.text
    (problem,) = [p for p in refused.json()["error"]["problems"] if p["severity"] == "error"]
    assert problem["field"] == "triggers[0].args.max_body_bytes"
    assert problem["line"] == document.splitlines().index("      max_body_bytes: -1") + 1
    assert (await api.get("/workflows/broken/versions")).json() == []


async def _ended(api: httpx.AsyncClient, execution_id: str) -> dict[str, object] | None:
    detail: dict[str, object] = (await api.get(f"/runs/{execution_id}")).json()
    return None if detail.get("status") in ("queued", "running") else detail


async def test_redelivery_after_the_store_lost_the_run_starts_nothing(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client
) -> None:
    """Temporal decides (REJECT_DUPLICATE), so a restarted or second API process agrees."""
    hook = path_of((await commit(api, ALERT, "alert"))["webhook_url"])
    first = await api.post(hook, json={"severity": 2}, headers={"X-Delivery": "lost"})
    execution_id = first.json()["execution_id"]
    async with service.database.session() as session:
        await session.execute(delete(RunRow))  # as if another process had served the first
    again = await api.post(hook, json={"severity": 2}, headers={"X-Delivery": "lost"})
    assert again.status_code == 202 and again.json()["execution_id"] == execution_id
    await service.relay.close()  # both deliveries' starts are done (one refused as a duplicate)
    query = f"WorkflowId = '{execution_id}'"

    async def listed() -> int:
        return len([e async for e in temporal_client.list_workflows(query)])

    assert await eventually(listed) == 1
