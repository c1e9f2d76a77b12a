"""Webhook secrets end to end: shown once, stored as digests, rotated; signed replays are no-ops."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import httpx
import pytest

from keel.api.state import ServiceState
from keel.store.secrets import set_secret
from tests.e2e.conftest import commit, path_of

pytestmark = pytest.mark.integration

ECHO = """\
title: Echo
description: echoes its delivery
triggers:
  - type: webhook
    ref: hook
    args: {{signature: {{scheme: github, secrets: ["${{{{ SECRETS.hooks.github }}}}"]}}{extra}}}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {{value: "${{{{ TRIGGER }}}}"}}
returns: ${{{{ ACTIONS.echo.result }}}}
"""

PLAIN = """\
title: Plain
description: echoes its delivery
triggers:
  - {type: webhook, ref: hook}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
"""


async def test_the_url_is_shown_once_stored_as_a_digest_and_rotated(
    api: httpx.AsyncClient, service: ServiceState, tmp_path: Path
) -> None:
    document = PLAIN
    first = await commit(api, document, "echo")
    url = first["webhook_url"]
    assert url.startswith(f"http://keel.test/webhooks/{first['id']}/")
    secret = url.rsplit("/", 1)[1]
    # Later answers cannot show it: only its digest is kept.
    assert (await commit(api, document, "echo"))["webhook_url"] is None
    assert (await api.get("/workflows/echo")).json()["webhook_url"] is None
    assert (await api.post(path_of(url), json={"n": 1})).status_code == 202

    rotated = await api.post("/workflows/echo/webhook/rotate")
    assert rotated.status_code == 200, rotated.text
    new_url = rotated.json()["webhook_url"]
    assert new_url != url and new_url.startswith(f"http://keel.test/webhooks/{first['id']}/")
    assert (await api.post(path_of(url), json={"n": 1})).status_code == 404
    assert (await api.post(path_of(new_url), json={"n": 1})).status_code == 202
    assert (await api.post("/workflows/nope/webhook/rotate")).status_code == 404

    await service.relay.close()  # the accepted runs' starts are done: nothing holds the store
    await service.database.engine.dispose()
    for path in tmp_path.glob("keel.db*"):
        data = path.read_bytes()
        for one in (secret, new_url.rsplit("/", 1)[1]):
            assert one.encode() not in data, f"a webhook secret is in {path.name}"


@pytest.mark.parametrize("extra", ["", ", idempotency: {header: X-GitHub-Delivery}"])
async def test_a_replayed_signed_delivery_is_the_same_run(
    api: httpx.AsyncClient, service: ServiceState, extra: str
) -> None:
    async with service.database.session() as session:
        await set_secret(session, service.cipher, "hooks", {"github": "gh-secret"})
    hook = path_of((await commit(api, ECHO.format(extra=extra), "signed"))["webhook_url"])
    body = b'{"action": "opened", "number": 7}'
    signature = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}

    ids = set()
    for delivery in ({"X-GitHub-Delivery": "d-1"}, {"X-GitHub-Delivery": "d-2"}, {}):
        answer = await api.post(hook, content=body, headers={**headers, **delivery})
        assert answer.status_code == 202, answer.text
        ids.add(answer.json()["execution_id"])
    assert len(ids) == 1  # the replays were no-ops: one run
    rows = (await api.get("/runs", params={"workflow": "signed"})).json()["items"]
    assert [r["execution_id"] for r in rows] == list(ids)
