"""The console in a real browser: sign in, workflows and their DAG, runs live, items, buttons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.console.conftest import PHONE, Console, screenshot, sign_in
from tests.integration.api.flows import SLOW
from tests.integration.api.test_children import CHILD, PARENT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GREET = """\
title: Greet
description: greets a name, a few times, after a short pause
entrypoint:
  ref: hello
  expects:
    name: {type: str, description: who to greet}
    times: {type: int, default: 2}
    tone: {type: 'enum["warm", "dry"]', default: warm}
triggers:
  - type: webhook
    ref: hook
actions:
  - ref: hello
    action: core.transform.reshape
    args: {value: "Hello, ${{ TRIGGER.name }}"}
  - ref: repeat
    action: core.transform.reshape
    depends_on: [hello]
    for_each: ${{ for var.i in FN.range(0, TRIGGER.times) }}
    args: {value: "${{ ACTIONS.hello.result }} #${{ var.i }}"}
  - ref: pause
    action: core.transform.reshape
    depends_on: [repeat]
    start_delay: 2
    args: {value: "${{ ACTIONS.repeat.result }}"}
  - ref: shout
    action: core.transform.apply
    depends_on: [pause]
    run_if: ${{ TRIGGER.tone == "warm" }}
    args: {value: "${{ ACTIONS.pause.result }}", python_lambda: "lambda v: [s.upper() for s in v]"}
returns: ${{ ACTIONS.shout.result }}
"""

DIVIDE = """\
title: Divide
description: divides 100 by each number; 0 fails
entrypoint:
  ref: numbers
  expects:
    numbers: {type: "list[int]"}
actions:
  - ref: numbers
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.numbers }}"}
  - ref: divide
    action: core.transform.apply
    depends_on: [numbers]
    for_each: ${{ for var.n in ACTIONS.numbers.result }}
    args: {value: "${{ var.n }}", python_lambda: "lambda n: 100 // n"}
  - ref: report
    action: core.transform.reshape
    depends_on: [divide.error]
    args: {value: "${{ ACTIONS.divide.error }}"}
  - ref: total
    action: core.transform.apply
    depends_on: [divide]
    args: {value: "${{ ACTIONS.divide.result }}", python_lambda: "lambda v: sum(v)"}
"""

SCATTER = """\
title: Scatter
description: divides 100 by each number in a scatter region; 0 fails in its stream
actions:
  - ref: numbers
    action: core.transform.scatter
    args: {collection: "${{ TRIGGER.numbers }}"}
  - ref: share
    action: core.transform.apply
    depends_on: [numbers]
    args: {value: "${{ ACTIONS.numbers.result }}", python_lambda: "lambda n: 100 // n"}
  - ref: shares
    action: core.transform.gather
    depends_on: [share]
    args: {items: "${{ ACTIONS.share.result }}", error_strategy: include}
"""

FAILING = """\
title: Broken sum
description: fails on a zero
actions:
  - ref: start
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.d }}"}
  - ref: divide
    action: core.transform.apply
    depends_on: [start]
    args: {value: "${{ ACTIONS.start.result }}", python_lambda: "lambda d: 10 // d"}
"""


async def apply(console: Console, document: str, alias: str) -> str:
    """Create and commit a workflow through the API; return its id."""
    response = await console.api.post("/workflows/apply", json={"yaml": document, "alias": alias})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def start(console: Console, alias: str, inputs: Any = None) -> str:
    """Start a run through the API; return its id."""
    response = await console.api.post(f"/workflows/{alias}/runs", json={"inputs": inputs or {}})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def ended(console: Console, execution_id: str) -> dict[str, Any]:
    """Wait until a run has ended; return its detail."""
    async with asyncio.timeout(60):
        while True:
            detail: dict[str, Any] = (await console.api.get(f"/runs/{execution_id}")).json()
            if detail["status"] not in ("queued", "running"):
                return detail
            await asyncio.sleep(0.2)


async def test_sign_in_is_required(console: Console, page: Page) -> None:
    await page.goto(f"{console.url}/")
    await page.wait_for_url("**/ui/login?next=*")
    await page.fill("#api_key", "not-a-key")
    await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await screenshot(page, "login-refused")
    await page.fill("#api_key", console.key)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/workflows")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "keel_console_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await page.click("text=Sign out")
    await page.wait_for_url("**/ui/login")
    await page.goto(f"{console.url}/ui/runs")
    await page.wait_for_url("**/ui/login?next=*")


async def test_workflow_dag_form_and_live_run(console: Console, page: Page) -> None:
    errors: list[str] = []  # script errors and refused content (CSP) would show up here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await apply(console, GREET, "greet")
    await apply(
        console,
        GREET.replace("times: {type: int, default: 2}", "times: {type: int, default: 3}"),
        "greet",
    )
    await sign_in(page, console)
    card = page.locator("article.workflow", has_text="Greet")
    await expect(card).to_contain_text("version 2")
    await expect(card).to_contain_text("shown once")
    await screenshot(page, "workflows")

    await card.locator("h2 a").click()
    dag = page.locator("[data-dag] svg")
    await expect(dag.locator("g.node")).to_have_count(4)
    await expect(dag.locator("g.node[data-ref=shout]")).to_contain_text("core.transform.apply")
    await expect(dag.locator("g.edge")).to_have_count(3)
    await expect(dag.locator("g.edge", has_text="run_if")).to_have_count(1)
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("text=Make a new webhook URL")
    webhook = await page.locator("#webhook .copy input").input_value()
    assert webhook.startswith(f"{console.url}/webhooks/"), webhook
    await expect(page.locator("#webhook")).to_contain_text("cannot show it again")
    delivered = await console.api.post(webhook, json={"name": "Hook"})
    assert delivered.status_code == 202, delivered.text
    assert (await ended(console, delivered.json()["execution_id"]))["status"] == "succeeded"
    await screenshot(page, "workflow-new-webhook")
    await page.click("text=Compare")
    await expect(page.locator("pre.diff .d-add")).to_contain_text("default: 3")
    await screenshot(page, "workflow")

    await page.fill("#in-name", "Ada")
    await page.select_option("#in-tone", "warm")
    await page.click("text=Run version 2")
    await page.wait_for_url("**/ui/runs/*")
    node = page.locator("[data-dag] g.node[data-ref=shout]")
    # The run waits 2 s before `pause`: the page shows `shout` not yet done, then turns it green
    # without a reload (the DAG is recoloured from the live fragment).
    first = await node.get_attribute("data-status")
    assert first in ("queued", "running"), first
    await expect(node).to_have_attribute("data-status", "succeeded", timeout=30_000)
    await expect(node).to_contain_text("succeeded")
    await expect(page.locator("#run-live .summary")).to_contain_text("HELLO, ADA #2")
    await expect(page.locator("#run-live .summary")).not_to_have_attribute("hx-trigger", "every 1s")
    await expect(page.locator("#items-repeat .items-table tbody tr")).to_have_count(3)
    await screenshot(page, "run-succeeded")
    assert errors == []


async def test_failed_run_shows_the_error_and_reruns(console: Console, page: Page) -> None:
    await apply(console, FAILING, "broken")
    failed = await start(console, "broken", {"d": 0})
    await ended(console, failed)
    await sign_in(page, console)
    await page.goto(f"{console.url}/ui/runs/{failed}")
    divide = page.locator("[data-dag] g.node[data-ref=divide]")
    await expect(divide).to_have_attribute("data-status", "failed")
    panel = page.locator("#panel-divide")
    await expect(panel).to_have_attribute("open", "")
    await expect(panel).to_contain_text("ZeroDivisionError")
    await screenshot(page, "run-failed")

    await page.click("text=Re-run from failed")
    await page.wait_for_url(lambda url: "/ui/runs/" in url and failed not in url)
    await expect(page.locator("[data-dag] g.node[data-ref=start]")).to_contain_text(
        "succeeded", timeout=30_000
    )
    await expect(page.locator("#panel-start")).to_contain_text("reused from the earlier run")

    await page.goto(f"{console.url}/ui/runs/{failed}")
    await page.click("button:text-is('Re-run')")
    await page.wait_for_url(lambda url: "/ui/runs/" in url and failed not in url)
    rerun_id = page.url.rsplit("/", 1)[1]
    again = await ended(console, rerun_id)
    assert again["input"] == {"d": 0} and again["status"] == "failed"


async def test_for_each_items_filter_to_failed(console: Console, page: Page) -> None:
    await apply(console, DIVIDE, "divide")
    execution_id = await start(console, "divide", {"numbers": [5, 0, 4, 10]})
    await ended(console, execution_id)
    await sign_in(page, console)
    await page.goto(f"{console.url}/ui/runs/{execution_id}")
    items = page.locator("#items-divide")
    await expect(items.locator("tbody tr")).to_have_count(4)
    await items.locator("[data-filter=failed]").click()
    await expect(items.locator("tbody tr")).to_have_count(1)
    row = items.locator("tbody tr")
    await expect(row).to_contain_text("ZeroDivisionError")
    await expect(row.locator("td").first).to_have_text("1")
    await screenshot(page, "run-items-failed")


async def test_region_streams_in_the_action_panel(console: Console, page: Page) -> None:
    await apply(console, SCATTER, "scatter")
    execution_id = await start(console, "scatter", {"numbers": [5, 0, 4]})
    await ended(console, execution_id)
    await sign_in(page, console)
    await page.goto(f"{console.url}/ui/runs/{execution_id}")
    panel = page.locator("#panel-share")
    await expect(panel).to_have_attribute("open", "")  # failed: open from the start
    rows = panel.locator(".streams-table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_be_visible()
    # The failed stream is listed first, with its error; the others with their results.
    await expect(rows.first).to_contain_text("numbers[1]")
    await expect(rows.first).to_contain_text("ZeroDivisionError")
    await expect(panel.locator(".streams-table")).to_contain_text("20")
    await expect(panel.locator(".streams .row")).to_contain_text("failed 1")
    await screenshot(page, "run-region-streams")


async def test_cancel_a_running_run(console: Console, page: Page) -> None:
    await apply(console, SLOW, "slow")
    execution_id = await start(console, "slow")
    await sign_in(page, console)
    await page.goto(f"{console.url}/ui/runs")
    await expect(page.locator("#runs-table")).to_contain_text(execution_id)
    await screenshot(page, "runs")
    await page.click(f"text={execution_id}")
    await expect(page.locator("#run-live .summary")).to_contain_text("running")
    await page.click("button:text-is('Cancel')")
    await expect(page.locator("#run-live .summary .badge").first).to_contain_text(
        "cancelled", timeout=30_000
    )
    await expect(page.locator("[data-dag] g.node[data-ref=wait]")).to_have_attribute(
        "data-status", "cancelled"
    )
    await screenshot(page, "run-cancelled")
    assert (await ended(console, execution_id))["status"] == "cancelled"


async def test_phone_width(console: Console, page: Page) -> None:
    await apply(console, DIVIDE, "divide")
    execution_id = await start(console, "divide", {"numbers": [5, 0, 4, 10]})
    await ended(console, execution_id)
    await sign_in(page, console)
    await page.set_viewport_size(PHONE)
    for path, name in [
        ("/ui/workflows", "phone-workflows"),
        (f"/ui/runs/{execution_id}", "phone-run"),
        ("/ui/runs", "phone-runs"),
    ]:
        await page.goto(f"{console.url}{path}")
        await page.wait_for_load_state("networkidle")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is wider than the phone's screen by {overflow}px"
        await screenshot(page, name)


async def test_child_runs_link_both_ways(console: Console, page: Page) -> None:
    await apply(console, CHILD, "child")
    await apply(console, PARENT, "parent")
    parent = await start(console, "parent")
    assert (await ended(console, parent))["status"] == "succeeded"
    await sign_in(page, console)
    await page.goto(f"{console.url}/ui/runs/{parent}")
    children = page.locator("#run-live .summary ul li a")
    await expect(children).to_have_count(2)
    await expect(page.locator("#items-kids")).to_have_count(0)
    await screenshot(page, "run-parent")
    await children.first.click()
    await page.wait_for_url(f"**/ui/runs/{parent}--kids-*")
    await expect(page.locator("p.meta")).to_contain_text("child of")
    await page.locator("p.meta a", has_text=parent).click()
    await page.wait_for_url(f"**/ui/runs/{parent}")
