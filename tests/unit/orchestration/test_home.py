"""The state folder: its lock, stack.json, the local key and their private modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel.errors import ConfigError
from keel.orchestration.home import (
    FolderLock,
    StackInfo,
    prepare,
    process_alive,
    read_local_key,
    remove_stack,
    write_local_key,
)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_prepare_creates_a_private_folder_and_tightens_an_open_one(tmp_path: Path) -> None:
    home = prepare(tmp_path / "a" / "home")
    assert mode(home) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    assert mode(prepare(loose)) == 0o700


def test_a_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with FolderLock(tmp_path / "keel.lock", "the state folder X"):
        assert mode(tmp_path / "keel.lock") == 0o600
        with pytest.raises(ConfigError) as refused:
            FolderLock(tmp_path / "keel.lock", "the state folder X").acquire()
        assert f"the state folder X is in use by another Keel process (pid {os.getpid()})" in str(
            refused.value
        )
    with FolderLock(tmp_path / "keel.lock", "the state folder X"):
        pass  # released: taken again


def test_the_lock_ends_with_its_process(tmp_path: Path) -> None:
    holder = (
        "import sys, time; from pathlib import Path; from keel.orchestration.home import "
        "FolderLock; FolderLock(Path(sys.argv[1]), 'x').acquire(); print('held', flush=True); "
        "time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder, str(tmp_path / "keel.lock")], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"held\n"
        with pytest.raises(ConfigError):
            FolderLock(tmp_path / "keel.lock", "x").acquire()
        child.kill()
        child.wait()
        with FolderLock(tmp_path / "keel.lock", "x"):
            pass
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()


def test_stack_info_round_trip_and_liveness(tmp_path: Path) -> None:
    info = StackInfo(pid=os.getpid(), address="127.0.0.1:1", api_url="http://127.0.0.1:2")
    info.processes = {"api": {"state": "running", "restarts": 0}}
    info.write(tmp_path)
    assert mode(tmp_path / "stack.json") == 0o600
    assert StackInfo.live(tmp_path) == info
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    StackInfo(pid=int(dead.stdout), address="127.0.0.1:1").write(tmp_path)
    assert StackInfo.read(tmp_path) is not None
    assert StackInfo.live(tmp_path) is None  # its keel up is gone
    (tmp_path / "stack.json").write_text("[not, a, stack]")
    assert StackInfo.read(tmp_path) is None
    remove_stack(tmp_path)
    assert StackInfo.read(tmp_path) is None


def test_local_key_is_private(tmp_path: Path) -> None:
    assert read_local_key(tmp_path) is None
    write_local_key(tmp_path, "keel_abc_def")
    assert mode(tmp_path / "api.key") == 0o600
    assert read_local_key(tmp_path) == "keel_abc_def"


def test_process_alive() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(0)
