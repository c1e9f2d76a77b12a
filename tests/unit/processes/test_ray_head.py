"""The Ray head's private temp folder: a killed ``keel up``'s is removed by the next one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from keel.config import Settings
from keel.processes.ray_head import TEMP_RECORD, RayHead, remove_stale_temp


def _long_home(tmp_path: Path) -> Path:
    """A state folder whose path is too long for Ray's sockets (so the temp folder is private)."""
    home = tmp_path / ("a-state-folder-with-a-long-name-" * 2)
    home.mkdir(parents=True)
    return home


def test_a_killed_stacks_temp_folder_is_removed_by_the_next_head(tmp_path: Path) -> None:
    home = _long_home(tmp_path)
    left = Path(tempfile.mkdtemp(prefix="keel-ray-"))
    (left / "session_latest").mkdir()
    (home / TEMP_RECORD).write_text(str(left))

    head = RayHead(Settings(ray_num_cpus=1), home, tmp_path / "logs")
    try:
        assert not left.exists()
        assert head.temp_dir.is_dir() and head.temp_dir != left
        assert (home / TEMP_RECORD).read_text() == str(head.temp_dir)
        assert (home / TEMP_RECORD).stat().st_mode & 0o777 == 0o600
    finally:
        head.cleanup()
    assert not head.temp_dir.exists()
    assert not (home / TEMP_RECORD).exists()


def test_a_record_naming_anything_else_removes_nothing(tmp_path: Path) -> None:
    precious = tmp_path / "keel-ray-precious"  # the right name, but not in the temp folder
    precious.mkdir()
    record = tmp_path / TEMP_RECORD
    record.write_text(str(precious))
    remove_stale_temp(record)
    assert precious.is_dir()
    assert not record.exists()

    other = Path(tempfile.mkdtemp(prefix="someone-else-"))
    try:
        record.write_text(str(other))
        remove_stale_temp(record)
        assert other.is_dir()
    finally:
        other.rmdir()
