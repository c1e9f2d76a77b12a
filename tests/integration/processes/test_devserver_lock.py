"""One dev server per state file: a second one refuses to start; an orphan is found and stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.orchestration.devserver import DevServerError, TemporalDevServer, stop_stale
from keel.orchestration.home import process_alive

pytestmark = pytest.mark.integration


async def test_a_second_dev_server_on_the_same_file_refuses_to_start(tmp_path: Path) -> None:
    db = tmp_path / "temporal.db"
    async with TemporalDevServer(db_file=db) as first:
        second = TemporalDevServer(db_file=db)
        with pytest.raises(DevServerError, match=r"temporal\.db is in use by another Keel"):
            await second.start()
        assert first.running and not second.running
    async with TemporalDevServer(db_file=db) as again:  # the lock went with the first
        assert again.running


async def test_an_orphan_dev_server_is_stopped_only_if_it_serves_the_file(tmp_path: Path) -> None:
    db = tmp_path / "temporal.db"
    server = TemporalDevServer(db_file=db)
    await server.start()
    pid = server.pid
    assert pid is not None
    try:
        # Another file's pid file naming this server: not stopped (not its file).
        other = tmp_path / "other.db"
        (tmp_path / "other.db.pid").write_text(f"{pid}\n")
        assert stop_stale(other, grace=5) is None
        assert process_alive(pid)
        # Its own file: stopped, as the next start does after its owner was killed.
        assert stop_stale(db, grace=5) == pid
        assert not process_alive(pid)  # a zombie of ours until reaped counts as gone
    finally:
        await server.stop()
