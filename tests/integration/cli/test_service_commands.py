"""The service commands as a user runs them at 80 columns: apply, runs, schedules, secrets."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.integration.api.flows import FIXED
from tests.integration.cli.conftest import Served

pytestmark = pytest.mark.integration

SCHEDULED = """\
title: Nightly sweep
description: a schedule trigger, paused so it never fires during the test
triggers:
  - ref: nightly
    type: schedule
    args: {cron: "0 3 * * *", timezone: Europe/Amsterdam}
actions:
  - ref: one
    action: core.transform.reshape
    args: {value: 1}
"""


def fits(text: str, width: int = 80) -> bool:
    """Return whether every line of ``text`` fits ``width`` columns."""
    return all(len(line) <= width for line in text.splitlines())


async def test_reapplying_an_unchanged_file_adds_no_version(served: Served) -> None:
    flow = served.cwd / "enrich.yml"
    flow.write_text(FIXED)
    first = await served.keel("apply", str(flow), "--json")
    assert first.returncode == 0, first.stderr
    (entry,) = json.loads(first.stdout)
    assert entry["version"] == 1 and entry["unchanged"] is False

    again = await served.keel("apply", flow.name)
    assert again.returncode == 0, again.stderr
    assert "unchanged, version 1 (no version added)" in again.stdout
    head = again.stdout.split("webhook:")[0]
    assert entry["id"] not in head and fits(head)  # aliases, not ids, by default
    again_json = await served.keel("apply", str(flow), "--json")
    # The same workflow and version; the webhook URL was shown once, when it was made.
    assert json.loads(again_json.stdout)[0] == entry | {"unchanged": True, "webhook_url": None}
    assert "webhook: unchanged (its URL was shown when it was made" in again.stdout

    flow.write_text(FIXED + "# a comment is a change\n")
    changed = await served.keel("apply", str(flow), "--json")
    assert json.loads(changed.stdout)[0]["version"] == 2
    assert json.loads(changed.stdout)[0]["unchanged"] is False


async def test_runs_list_fits_80_columns_with_aliases_and_id_prefixes(served: Served) -> None:
    flow = served.cwd / "an_enrichment_workflow_with_a_long_alias.yml"
    flow.write_text(FIXED)
    applied = await served.keel("apply", str(flow), "--json")
    workflow_id = json.loads(applied.stdout)[0]["id"]
    inputs = served.cwd / "inputs.json"
    inputs.write_text('{"n": 4}')
    # Two runs of the stored workflow through the API, one ad hoc run of the file.
    import httpx

    async with httpx.AsyncClient(
        base_url=served.url, headers={"Authorization": f"Bearer {served.key}"}
    ) as http:
        for n in (1, 2):
            started = await http.post(
                "/workflows/an_enrichment_workflow_with_a_long_alias/runs",
                json={"inputs": {"n": n}},
            )
            assert started.status_code == 202, started.text
    ran = await served.keel("run", str(flow), "--input", f"@{inputs}", "--json", api=False)
    assert ran.returncode == 0, ran.stderr

    listed = await served.keel("runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert fits(listed.stdout), listed.stdout
    assert "an_enrichment" in listed.stdout and workflow_id not in listed.stdout
    assert "<bool>" not in listed.stdout
    page = json.loads((await served.keel("runs", "list", "--json")).stdout)["items"]
    assert len(page) == 3
    ids = [run["execution_id"] for run in page]
    shown_ids = [line.split()[0] for line in listed.stdout.splitlines()[1:4]]
    assert all(full.startswith(short) for full, short in zip(ids, shown_ids, strict=True)), (
        listed.stdout
    )
    assert all(len(short) < len(full) for full, short in zip(ids, shown_ids, strict=True))

    wide = await served.keel("runs", "list", "--wide")
    assert workflow_id in wide.stdout and all(i in wide.stdout for i in ids)

    # A prefix as the list shows it names the run in show/events.
    api_run = next(r for r in page if r["trigger_type"] == "api")
    short = shown_ids[ids.index(api_run["execution_id"])]
    shown = await served.keel("runs", "show", short)
    assert shown.returncode == 0, shown.stderr
    assert api_run["execution_id"] in shown.stdout and "succeeded" in shown.stdout
    ambiguous = await served.keel("runs", "show", "run-")
    assert ambiguous.returncode == 1 and "is the start of 3 run ids" in ambiguous.stderr
    missing = await served.keel("runs", "show", "run-nothing-like-this")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


async def test_schedules_and_secrets_lists_fit_80_columns(served: Served) -> None:
    flow = served.cwd / "nightly_sweep_of_every_host_in_the_inventory.yml"
    flow.write_text(SCHEDULED)
    applied = await served.keel("apply", str(flow), "--json")
    assert applied.returncode == 0, applied.stderr
    workflow_id = json.loads(applied.stdout)[0]["id"]
    listed = await served.keel("schedules", "list", "--json")
    (schedule,) = json.loads(listed.stdout)
    paused = await served.keel("schedules", "pause", schedule["id"])
    assert paused.returncode == 0, paused.stderr

    table = await served.keel("schedules", "list")
    assert table.returncode == 0, table.stderr
    assert fits(table.stdout), table.stdout
    assert schedule["id"] in table.stdout and "paused" in table.stdout
    assert "nightly_sweep" in table.stdout and workflow_id not in table.stdout
    wide = await served.keel("schedules", "list", "--wide")
    assert workflow_id in wide.stdout

    made = await served.keel("secrets", "set", "intel", "api_key=abcdef", "region=eu-west-1")
    assert made.returncode == 0, made.stderr
    secrets = await served.keel("secrets", "list")
    assert fits(secrets.stdout) and "intel" in secrets.stdout and "abcdef" not in secrets.stdout


SCATTERED = """\
title: Divide each
description: a scatter whose second item fails; the gather keeps the others
actions:
  - ref: numbers_to_divide_by_in_a_region_with_a_long_name
    action: core.transform.scatter
    args: {collection: [5, 0, 2]}
  - ref: divide
    action: core.transform.apply
    depends_on: [numbers_to_divide_by_in_a_region_with_a_long_name]
    args:
      value: "${{ ACTIONS.numbers_to_divide_by_in_a_region_with_a_long_name.result }}"
      python_lambda: "lambda x: 10 // x"
  - ref: collect
    action: core.transform.gather
    depends_on: [divide]
    args: {items: "${{ ACTIONS.divide.result }}", error_strategy: partition}
returns: ${{ ACTIONS.collect.result }}
"""


async def test_runs_show_prints_each_region_its_streams_and_failures(served: Served) -> None:
    import httpx

    flow = served.cwd / "divide.yml"
    flow.write_text(SCATTERED)
    applied = await served.keel("apply", str(flow))
    assert applied.returncode == 0, applied.stderr
    async with httpx.AsyncClient(
        base_url=served.url, headers={"Authorization": f"Bearer {served.key}"}
    ) as http:
        started = await http.post("/workflows/divide/runs", json={"inputs": {}})
        assert started.status_code == 202, started.text
        run_id = started.json()["execution_id"]
        for _ in range(300):
            detail = (await http.get(f"/runs/{run_id}")).json()
            if detail["status"] != "running":
                break
            await asyncio.sleep(0.1)
    assert detail["status"] == "succeeded", detail

    shown = await served.keel("runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    section = lines[lines.index("regions") + 1 :]
    assert fits("\n".join(section)), shown.stdout
    # The counts stay whole; the long opener ref is what gives way.
    assert section[0].startswith("  numbers_to_divide_by_in"), section
    assert section[0].endswith(" (scatter): 3 items: 1 failed, 2 succeeded"), section
    # The failed stream: which item, which action, and its error wrapped beneath.
    assert section[1] == "    item 1, divide:", section
    error = " ".join(line.strip() for line in section[2:])
    assert all(line.startswith("      ") for line in section[2:]), section
    assert "LambdaError" in error and "ZeroDivisionError" in error, section

    # A run without regions prints no regions section.
    flow.write_text(FIXED)
    plain = await served.keel("run", str(flow), "--input", '{"n": 1}', "--json", api=False)
    assert plain.returncode == 0, plain.stderr
    (announced,) = [line for line in plain.stderr.splitlines() if line.startswith("run ")]
    other = await served.keel("runs", "show", announced.removeprefix("run ").strip())
    assert other.returncode == 0 and "regions" not in other.stdout, other.stdout
