"""The console's pages over HTTP (no browser): sign-in, CSRF, filters, paging, forms, schedules."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.console.session import COOKIE, csrf_token
from keel.store import apikeys
from tests.e2e.conftest import BASE_URL, commit, eventually, path_of
from tests.integration.api.flows import FAILING, FIXED, SLOW

pytestmark = pytest.mark.integration

SCHEDULED = """\
title: Nightly
description: two schedules, one paused
triggers:
  - type: schedule
    ref: nightly
    args: {cron: "0 2 * * *"}
  - type: schedule
    ref: hourly
    args: {every: 1h, paused: true}
actions:
  - ref: only
    action: core.transform.reshape
    args: {value: 1}
"""

FORM = """\
title: Form
description: every kind of field
entrypoint:
  ref: echo
  expects:
    count: {type: int}
    ratio: {type: float, default: 0.5}
    loud: {type: bool, default: false}
    tags: {type: "list[str]", default: []}
    when: {type: datetime, optional: true}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
returns: ${{ ACTIONS.echo.result }}
"""


@pytest.fixture
async def key(service: ServiceState) -> str:
    """A valid API key."""
    async with service.database.session() as session:
        return (await apikeys.create_api_key(session, "console")).key


@pytest.fixture
async def browser(service: ServiceState, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that behaves like a signed-in browser (cookie, same origin)."""
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, cookies={COOKIE: key}, headers={"Origin": BASE_URL}
    ) as client:
        yield client


async def test_pages_need_a_sign_in(service: ServiceState) -> None:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as anonymous:
        root = await anonymous.get("/")
        assert root.status_code == 303 and root.headers["location"] == "/ui/workflows"
        for path in ["/ui/workflows", "/ui/runs?status=failed", "/ui/runs/x", "/ui/workflows/x"]:
            response = await anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F"), path
        htmx = await anonymous.get("/ui/runs", headers={"HX-Request": "true"})
        assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/ui/login")
        anonymous.cookies.set(COOKIE, "keel_forged")
        forged = await anonymous.get("/ui/workflows")
        assert forged.status_code == 303 and "/ui/login" in forged.headers["location"]
        assert f'{COOKIE}=""' in forged.headers["set-cookie"]
        login = await anonymous.get("/ui/login")
        assert login.status_code == 200 and 'name="api_key"' in login.text
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        assert login.headers["x-frame-options"] == "DENY"
        assert login.headers["cache-control"] == "no-store"


async def test_sign_in_checks_the_key_and_the_origin(service: ServiceState, key: str) -> None:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        wrong = await client.post("/ui/login", data={"api_key": "nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        cross = await client.post(
            "/ui/login", data={"api_key": key}, headers={"Origin": "http://evil.example"}
        )
        assert cross.status_code == 403 and COOKIE not in cross.headers.get("set-cookie", "")
        ok = await client.post(
            "/ui/login",
            data={"api_key": key, "next": "//evil.example/x"},
            headers={"Origin": BASE_URL},
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/workflows"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        back = await client.post(
            "/ui/login", data={"api_key": key, "next": "/ui/runs?status=failed"}
        )
        assert back.headers["location"] == "/ui/runs?status=failed"


async def test_buttons_refuse_forged_requests(
    browser: httpx.AsyncClient, api: httpx.AsyncClient, key: str
) -> None:
    await commit(api, SLOW, "slow")
    execution_id = (await api.post("/workflows/slow/runs", json={})).json()["execution_id"]
    url = f"/ui/runs/{execution_id}/cancel"
    no_token = await browser.post(url)
    assert no_token.status_code == 403
    wrong_token = await browser.post(url, data={"csrf_token": "0" * 64})
    assert wrong_token.status_code == 403
    other_site = await browser.post(
        url, data={"csrf_token": csrf_token(key)}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    assert (await api.get(f"/runs/{execution_id}")).json()["status"] == "running"
    page = await browser.get(f"/ui/runs/{execution_id}")
    assert csrf_token(key) in page.text
    done = await browser.post(url, data={"csrf_token": csrf_token(key)})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/runs/{execution_id}"

    async def cancelled() -> bool:
        return bool((await api.get(f"/runs/{execution_id}")).json()["status"] == "cancelled")

    await eventually(cancelled)
    again = await browser.post(url, data={"csrf_token": csrf_token(key)})
    assert again.status_code == 409 and "cancelled" in again.text


async def test_workflows_page_shows_triggers_and_last_runs(
    browser: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await commit(api, SCHEDULED, "nightly")
    fixed = await commit(api, FIXED, "doubler")
    run = (await api.post("/workflows/doubler/runs", json={"inputs": {"n": 2}})).json()
    page = await browser.get("/ui/workflows")
    assert page.status_code == 200
    assert fixed["webhook_url"] not in page.text  # shown once, by the commit
    assert "shown once at the first commit" in page.text
    nightly = page.text[page.text.index("Nightly") :]
    assert "<code>0 2 * * *</code>" in nightly
    next_fire = re.search(r"next (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", nightly)
    assert next_fire is not None
    assert datetime.fromisoformat(next_fire[1]).replace(tzinfo=UTC) > datetime.now(UTC)
    assert "every 1h" in nightly and "paused" in nightly
    assert f"/ui/runs/{run['execution_id']}" in page.text
    await api.delete("/workflows/nightly")


async def test_a_new_webhook_url_is_shown_once(
    browser: httpx.AsyncClient, api: httpx.AsyncClient, key: str
) -> None:
    old = (await commit(api, FIXED, "doubler"))["webhook_url"]
    refused = await browser.post("/ui/workflows/doubler/webhook")
    assert refused.status_code == 403
    assert (await api.post(path_of(old), json={"n": 1})).status_code == 202
    page = await browser.post("/ui/workflows/doubler/webhook", data={"csrf_token": csrf_token(key)})
    assert page.status_code == 200 and "cannot show it again" in page.text
    new = re.search(r'value="(http://keel.test/webhooks/[^"]+)"', page.text)
    assert new is not None and new[1] != old
    assert (await api.post(path_of(old), json={"n": 1})).status_code == 404
    assert (await api.post(path_of(new[1]), json={"n": 1})).status_code == 202
    again = await browser.get("/ui/workflows/doubler")
    assert new[1] not in again.text


async def test_runs_filters_and_pages(browser: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    await commit(api, FIXED, "doubler")
    await commit(api, FAILING, "divider")
    ok = [
        (await api.post("/workflows/doubler/runs", json={"inputs": {"n": i}})).json()[
            "execution_id"
        ]
        for i in range(26)
    ]
    bad = (await api.post("/workflows/divider/runs", json={"inputs": {"d": 0}})).json()[
        "execution_id"
    ]

    async def all_ended() -> bool:
        listed = (await api.get("/runs", params={"status": "running"})).json()["items"]
        return not listed

    await eventually(all_ended, timeout=60)
    failed = await browser.get("/ui/runs", params={"status": "failed"})
    assert bad in failed.text and ok[0] not in failed.text
    by_workflow = await browser.get("/ui/runs", params={"workflow": "divider"})
    assert bad in by_workflow.text and ok[-1] not in by_workflow.text
    assert "/ui/runs/" + bad in (await browser.get("/ui/runs", params={"trigger": "api"})).text
    webhook = await browser.get("/ui/runs", params={"trigger": "webhook", "since": "1h"})
    assert "No runs." in webhook.text
    future = await browser.get("/ui/runs", params={"after": "2999-01-01T00:00"})
    assert "No runs." in future.text
    past = await browser.get("/ui/runs", params={"before": "2999-01-01T00:00", "status": "failed"})
    assert bad in past.text
    nonsense = await browser.get("/ui/runs", params={"after": "yesterday-ish"})
    assert "from: &#39;yesterday-ish&#39; is not a time" in nonsense.text

    first = await browser.get("/ui/runs")
    assert 'hx-trigger="every 3s"' in first.text  # the newest page refreshes itself
    older = re.search(r'href="(/ui/runs\?[^"]*cursor=[^"]+)"', first.text)
    assert older is not None
    second = await browser.get(older[1].replace("&amp;", "&"))
    shown = set(re.findall(r"/ui/runs/(run-[0-9a-f]+)", first.text + second.text))
    assert shown == {*ok, bad}
    assert 'hx-trigger="every 3s"' not in second.text
    fragment = await browser.get("/ui/runs", params={"fragment": "true"})
    assert fragment.text.lstrip().startswith('<section id="runs-table"')


async def test_run_form(browser: httpx.AsyncClient, api: httpx.AsyncClient, key: str) -> None:
    workflow = await commit(api, FORM, "form")
    page = await browser.get("/ui/workflows/form")
    for name in ["count", "ratio", "loud", "tags", "when"]:
        assert f'name="input.{name}"' in page.text
    token = csrf_token(key)
    url = f"/ui/workflows/{workflow['id']}/run"
    bad_json = await browser.post(
        url, data={"csrf_token": token, "input.tags": "[oops", "input.count": "7"}
    )
    assert bad_json.status_code == 422 and "tags: not valid JSON" in bad_json.text
    assert 'value="7"' in bad_json.text and "[oops</textarea>" in bad_json.text  # kept

    missing = await browser.post(url, data={"csrf_token": token, "input.ratio": "2.5"})
    assert missing.status_code == 422
    assert "count" in missing.text and "✖" in missing.text
    assert (await api.get("/runs", params={"workflow": "form"})).json()["items"] == []

    started = await browser.post(
        url,
        data={
            "csrf_token": token,
            "input.count": "3",
            "input.loud": "true",
            "input.tags": '["a", "b"]',
        },
    )
    assert started.status_code == 303
    execution_id = started.headers["location"].rsplit("/", 1)[1]

    async def result() -> object:
        detail = (await api.get(f"/runs/{execution_id}")).json()
        return detail["result"] if detail["status"] == "succeeded" else None

    assert await eventually(result) == {"count": 3, "ratio": 0.5, "loud": True, "tags": ["a", "b"]}
    run_page = await browser.get(f"/ui/runs/{execution_id}")
    assert run_page.status_code == 200 and '"tags": [' in run_page.text
