"""``keel validate``: output, exit codes, JSON form; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from keel.cli.main import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()

BROKEN = """title: t
description: d
actions:
  - ref: a
    action: core.transform.reshap
    args: {value: '${{ FN.uppercase(1, 2) }}'}
"""


def test_valid_files_exit_zero() -> None:
    result = runner.invoke(app, ["validate", str(REPO / "examples" / "alert_enrichment.yml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_problems_are_printed_with_location_and_exit_one(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: action 'a', field 'action': unknown action 'core.transform.reshap'" in (
        result.output.replace("\n", " ").replace("  ", " ")
    )
    assert "FN.uppercase" in result.output
    assert "2 error(s)" in result.output


def test_json_output_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    result = runner.invoke(app, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    (entry,) = payload.values()
    assert entry["valid"] is False
    assert [p["field"] for p in entry["problems"]] == ["action", "args.value"]
    assert entry["problems"][0]["line"] == 5


def test_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yml")])
    assert result.exit_code == 1
    assert "cannot read file" in result.output
    assert "Traceback" not in result.output


def test_yaml_garbage_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_bytes(b"\xff\xfe: [\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
