"""``keel run`` as a user runs it: a real process, a real Temporal, exit codes and output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from keel.orchestration.devserver import TemporalDevServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "alert_enrichment.yml"
EXAMPLE_INPUT = REPO / "examples" / "alert_enrichment.input.json"


def keel(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli.main", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HOME": str(tmp_path / "home"),
    }


def test_run_prints_the_result_as_json(env: dict[str, str], tmp_path: Path) -> None:
    done = keel(
        "run", str(EXAMPLE), "--input", f"@{EXAMPLE_INPUT}", "--json", env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["serious"] == 2 and result["hosts"] == ["web-1"] and result["escalate"] is True


def test_run_context_shows_actions_and_trigger(env: dict[str, str], tmp_path: Path) -> None:
    done = keel(
        "run",
        str(EXAMPLE),
        "--input",
        f"@{EXAMPLE_INPUT}",
        "--json",
        "--context",
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    context = json.loads(done.stdout)
    assert context["TRIGGER"]["source"] == "falcon"
    assert context["ACTIONS"]["serious"]["result_typename"] == "list"
    assert set(context["ACTIONS"]) == {"normalise", "serious", "indicators", "titles", "verdict"}


def test_a_failing_run_exits_one_naming_action_attempts_and_cause(
    env: dict[str, str], tmp_path: Path
) -> None:
    workflow = tmp_path / "fails.yml"
    workflow.write_text(
        "title: t\ndescription: d\nactions:\n  - ref: boom\n    action: core.transform.apply\n"
        "    retry_policy: {max_attempts: 2, backoff: {initial: 0.01}}\n"
        "    args: {value: 1, python_lambda: 'lambda x: x / 0'}\n"
    )
    done = keel("run", str(workflow), env=env, cwd=tmp_path)
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert "action 'boom' failed after 2 attempt(s)" in message
    assert "ZeroDivisionError" in message or "division" in message
    assert "Traceback" not in done.stderr


def test_bad_input_starts_no_run_and_names_each_field(env: dict[str, str], tmp_path: Path) -> None:
    done = keel("run", str(EXAMPLE), "--input", '{"source": 1}', env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "field 'source': expected str" in done.stderr
    assert "field 'alerts': required field missing" in done.stderr


def test_input_deeper_than_the_bound_is_refused_clearly(
    env: dict[str, str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 900 + "1" + "]" * 900)
    for given in (f"@{deep}", '{"a": ' * 70 + "1" + "}" * 70):
        done = keel("run", str(EXAMPLE), "--input", given, env=env, cwd=tmp_path)
        assert done.returncode == 1
        assert "--input is nested more than 64 levels deep" in done.stderr
        assert "KEEL_MAX_JSON_DEPTH" in done.stderr
        assert "Traceback" not in done.stderr
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"text": "x" * 4096}))
    done = keel(
        "run",
        str(EXAMPLE),
        "--input",
        f"@{big}",
        env={**env, "KEEL_MAX_BODY_BYTES": "2048"},
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "--input is larger than the limit of 2048 bytes (KEEL_MAX_BODY_BYTES)" in done.stderr


def test_an_invalid_workflow_starts_no_run(env: dict[str, str], tmp_path: Path) -> None:
    workflow = tmp_path / "bad.yml"
    workflow.write_text("title: t\ndescription: d\nactions:\n  - ref: a\n    action: core.nope\n")
    done = keel("run", str(workflow), env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "unknown action 'core.nope'" in done.stderr


def test_run_starts_its_own_embedded_temporal_when_none_is_configured(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = keel(
        "run",
        str(EXAMPLE),
        "--input",
        f"@{EXAMPLE_INPUT}",
        "--json",
        env={"KEEL_HOME": str(home), "KEEL_TEMPORAL_ADDRESS": ""},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["serious"] == 2
    assert (home / "temporal.db").exists()


def test_run_resolves_child_workflows_from_the_files_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = keel("run", str(REPO / "examples" / "host_sweep.yml"), "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "checked": 3,
        "unhealthy": ["db-1"],
        "requested_by": "nightly",
    }


def test_a_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = keel(
        "run", str(EXAMPLE), "--input", f"@{EXAMPLE_INPUT}",
        env={"KEEL_HOME": str(tmp_path), "KEEL_LARGE_PAYLOAD_BYTES": "lots"},
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert "KEEL_LARGE_PAYLOAD_BYTES: Input should be a valid integer" in said
    assert "(got 'lots')" in said
    assert "Traceback" not in result.stderr + result.stdout


def test_a_large_result_goes_to_the_store_and_old_blobs_can_be_pruned(
    env: dict[str, str], tmp_path: Path
) -> None:
    document = tmp_path / "big.yml"
    document.write_text(
        "title: big\ndescription: a 200 kB result\nactions:\n"
        "  - ref: big\n    action: core.transform.apply\n"
        "    args: {value: 200000, python_lambda: \"lambda n: 'z' * n\"}\n"
        "returns: ${{ FN.length(ACTIONS.big.result) }}\n"
    )
    done = keel("run", str(document), "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 200_000
    database = Path(env["KEEL_HOME"]) / "keel.db"
    with sqlite3.connect(database) as connection:
        (stored,) = connection.execute("SELECT count(*) FROM blobs WHERE size > 200000").fetchone()
    # The action's result, and the run's final state that carries it (read by the API for a
    # closed run): both kept out of the history.
    assert stored == 2

    kept = keel("blobs", "prune", "--older-than", "30d", env=env, cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "deleted 0 blob(s)" in kept.stdout
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE blobs SET stored_at = '2020-01-01 00:00:00.000000'")
        (every,) = connection.execute("SELECT count(*) FROM blobs").fetchone()
    dry = keel("blobs", "prune", "--older-than", "30d", "--dry-run", env=env, cwd=tmp_path)
    assert f"would delete {every} blob(s)" in dry.stdout, dry.stdout + dry.stderr
    gone = keel("blobs", "prune", "--older-than", "30d", env=env, cwd=tmp_path)
    assert f"deleted {every} blob(s)" in gone.stdout and "not written for 30 days" in gone.stdout
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM blobs").fetchone() == (0,)

    bad = keel("blobs", "prune", "--older-than", "soon", env=env, cwd=tmp_path)
    assert bad.returncode == 1
    assert "--older-than: 'soon' is not a duration" in " ".join(bad.stderr.split())
