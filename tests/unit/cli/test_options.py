"""The command line's own surface: --version, help without flag metavars, durations, --vars."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from keel.cli.durations import parse_cli_duration
from keel.cli.main import app
from keel.cli.variables import MAX_VARS_BYTES, read_variables
from keel.errors import KeelError

runner = CliRunner()


def command_paths() -> Iterator[list[str]]:
    """Yield the argv of every command and group of ``keel`` (``[]``, ``["runs", "list"]``...)."""

    def walk(command: click.Command, path: list[str]) -> Iterator[list[str]]:
        yield path
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"keel {metadata.version('keel')}"


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_help_shows_flags_without_a_metavar_and_fits_80_columns(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output


def test_the_help_of_every_json_flag_is_a_plain_flag() -> None:
    result = runner.invoke(app, ["runs", "list", "--help"], env={"COLUMNS": "80"})
    (line,) = [x for x in result.output.splitlines() if "--json" in x]
    assert line.split()[:2] == ["--json", "Print"]


@pytest.mark.parametrize(
    ("text", "seconds", "words"),
    [
        ("30s", 30, "30 seconds"),
        ("30m", 1800, "30 minutes"),
        ("12h", 43200, "12 hours"),
        ("30d", 2592000, "30 days"),
        ("1d", 86400, "1 day"),
        ("2w", 1209600, "2 weeks"),
        (" 7D ", 604800, "7 days"),
    ],
)
def test_durations_have_units(text: str, seconds: int, words: str) -> None:
    assert parse_cli_duration(text, "--older-than") == (seconds, words)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "--older-than: '30' has no unit; write e.g. 30s, 30m, 30h or 30d"),
        ("1.5", "'1.5' has no unit"),
        ("soon", "'soon' is not a duration"),
        ("30y", "'30y' is not a duration"),
        ("-3d", "'-3d' is not a duration"),
        ("0d", "'0d' is zero"),
        ("9" * 20 + "d", "is not a duration"),
    ],
)
def test_a_duration_without_a_unit_is_refused(text: str, message: str) -> None:
    with pytest.raises(KeelError) as caught:
        parse_cli_duration(text, "--older-than")
    assert message in str(caught.value)


def test_blobs_prune_refuses_a_bare_number_before_touching_the_store(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["blobs", "prune", "--older-than", "30"], env={"KEEL_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "'30' has no unit" in " ".join(result.output.split())
    assert not (tmp_path / "keel.db").exists()


def test_vars_read_from_text_and_file(tmp_path: Path) -> None:
    given = '{"slack": {"channel": "#soc"}}'
    assert read_variables(given) == {"slack": {"channel": "#soc"}}
    (tmp_path / "vars.json").write_text(given)
    assert read_variables(f"@{tmp_path / 'vars.json'}") == {"slack": {"channel": "#soc"}}
    assert read_variables(None) == {}


def test_vars_are_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"a": {"b": "' + "x" * MAX_VARS_BYTES + '"}}')
    with pytest.raises(KeelError, match="larger than 1024 KiB"):
        read_variables(f"@{big}")
    with pytest.raises(KeelError, match=r"nested too deeply|not valid JSON"):
        read_variables('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
