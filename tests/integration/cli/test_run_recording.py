"""``keel run`` beside a store or a running ``keel up``: recorded, announced, given VARS."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest

from keel.orchestration.devserver import TemporalDevServer
from tests.integration.cli.conftest import Served

pytestmark = pytest.mark.integration

USES_VARS = """\
title: Post to a channel
description: reads VARS
actions:
  - ref: where
    action: core.transform.reshape
    args:
      value: "${{ VARS.slack.channel }} in ${{ VARS.region.name }}"
returns: ${{ ACTIONS.where.result }}
"""


async def test_a_run_is_recorded_in_the_configured_store(served: Served) -> None:
    flow = served.cwd / "post.yml"
    flow.write_text(USES_VARS)
    variables = served.cwd / "vars.json"
    variables.write_text('{"region": {"name": "eu"}, "slack": {"channel": "#soc"}}')

    ran = await served.keel("run", str(flow), "--vars", f"@{variables}", "--json", api=False)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == "#soc in eu"  # stdout holds the result alone
    (announced,) = [line for line in ran.stderr.splitlines() if line.startswith("run ")]
    execution_id = announced.removeprefix("run ").strip()
    assert execution_id.startswith("run-") and execution_id.endswith("-post")
    # No keel up: the page is named, with when it answers.
    assert f"/ui/runs/{execution_id} (once `keel up` runs in this folder)" in ran.stderr

    page = json.loads((await served.keel("runs", "list", "--json")).stdout)["items"]
    (run,) = page
    assert run["execution_id"] == execution_id and run["trigger_type"] == "cli"
    assert run["status"] == "succeeded" and run["workflow_id"] is None
    assert run["ended_at"] >= run["started_at"]


async def test_a_failed_run_is_recorded_failed_with_its_error(served: Served) -> None:
    flow = served.cwd / "fails.yml"
    flow.write_text(
        "title: t\ndescription: d\nactions:\n  - ref: boom\n    action: core.transform.apply\n"
        "    args: {value: 1, python_lambda: 'lambda x: x / 0'}\n"
    )
    ran = await served.keel("run", str(flow), api=False)
    assert ran.returncode == 1
    (run,) = json.loads((await served.keel("runs", "list", "--json")).stdout)["items"]
    assert run["status"] == "failed" and "ZeroDivisionError" in (run["error"] or "")


async def test_beside_a_running_keel_up_the_run_prints_its_console_url(
    served: Served, temporal_server: TemporalDevServer
) -> None:
    served.pretend_keel_up(temporal_server.address)
    # No store configured: keel run finds keel up's (the default one in KEEL_HOME).
    served.env = {k: v for k, v in served.env.items() if k != "KEEL_DATABASE_URL"}
    flow = served.cwd / "post.yml"
    flow.write_text(USES_VARS)
    ran = await served.keel(
        "run",
        str(flow),
        "--vars",
        '{"slack": {"channel": "#ops"}, "region": {"name": "us"}}',
        api=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == "#ops in us"
    (announced,) = [line for line in ran.stderr.splitlines() if line.startswith("run ")]
    execution_id = announced.removeprefix("run ").strip()
    assert f"console: {served.url}/ui/runs/{execution_id}" in ran.stderr
    shown = await served.keel("runs", "show", execution_id)
    assert shown.returncode == 0 and "succeeded" in shown.stdout
    (run,) = json.loads((await served.keel("runs", "list", "--json")).stdout)["items"]
    assert run["execution_id"] == execution_id and run["trigger_type"] == "cli"


async def test_without_a_store_or_keel_up_the_run_is_kept_in_the_folders_own_store(
    served: Served,
) -> None:
    home = served.cwd / "elsewhere"
    served.env = {k: v for k, v in served.env.items() if k != "KEEL_DATABASE_URL"}
    served.env["KEEL_HOME"] = str(home)
    flow = served.cwd / "post.yml"
    flow.write_text(USES_VARS)
    ran = await served.keel(
        "run",
        str(flow),
        "--vars",
        '{"slack": {"channel": "#a"}, "region": {"name": "b"}}',
        api=False,
    )
    assert ran.returncode == 0, ran.stderr
    (announced,) = [line for line in ran.stderr.splitlines() if line.startswith("run ")]
    execution_id = announced.removeprefix("run ").strip()
    # The embedded default store (what a later `keel up` here serves) has the run, finished.
    with sqlite3.connect(home / "keel.db") as db:
        rows = db.execute("SELECT execution_id, trigger_type, status FROM runs").fetchall()
    assert rows == [(execution_id, "cli", "succeeded")]
    # The state folder and everything in it is the owner's alone (Temporal's histories too).
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in home.glob("*.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Nothing reached the other store (the served API's).
    assert json.loads((await served.keel("runs", "list", "--json")).stdout)["items"] == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("[1, 2]", "expected a JSON object of variables"),
        ('{"slack": "#soc"}', "variable 'slack' must be an object of keys"),
        ('{"1st": {}}', "variable name '1st' cannot be read as VARS.<name>"),
        ("{nope", "--vars is not valid JSON"),
        ("@missing.json", "--vars missing.json: cannot read the file"),
    ],
)
async def test_bad_vars_start_no_run(served: Served, given: str, expected: str) -> None:
    flow = served.cwd / "post.yml"
    flow.write_text(USES_VARS)
    ran = await served.keel("run", str(flow), "--vars", given, api=False)
    assert ran.returncode == 1
    assert expected in " ".join(ran.stderr.split())
    assert "Traceback" not in ran.stderr
    assert json.loads((await served.keel("runs", "list", "--json")).stdout)["items"] == []
