"""At rest: webhook secrets as digests (older stores converted); the state folder and files private."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from keel.config import Settings, private_folder
from keel.store import webhooks
from keel.store.crypto import load_or_create_key_file
from keel.store.database import Database, alembic_config

from .conftest import DatabaseFactory

pytestmark = pytest.mark.integration

OLD_SECRET = "an-old-plaintext-secret-handed-out-before-digests"


async def test_the_migration_turns_stored_secrets_into_digests(
    make_database: DatabaseFactory,
) -> None:
    async with make_database() as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "0003"))
            await connection.execute(
                sa.text(
                    "INSERT INTO workflows (id, title, description, draft_yaml, "
                    "draft_updated_at, created_at, updated_at) VALUES ('wf_old', 't', '', '', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO webhooks (workflow_id, secret, settings, enabled, created_at, "
                    "updated_at) VALUES ('wf_old', :secret, '{}', true, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"secret": OLD_SECRET},
            )
        await database.migrate()
        async with database.engine.connect() as connection:
            stored = (await connection.execute(sa.text("SELECT * FROM webhooks"))).mappings().one()
        assert "secret" not in stored
        assert stored["secret_hash"] == hashlib.sha256(OLD_SECRET.encode()).hexdigest()
        async with database.session() as session:
            # The URL handed out before the migration still works; nothing else does.
            assert await webhooks.verify_webhook(session, "wf_old", OLD_SECRET) is not None
            assert await webhooks.verify_webhook(session, "wf_old", stored["secret_hash"]) is None


async def test_the_state_folder_and_store_files_are_this_user_s_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    load_or_create_key_file(home)
    async with Database.from_settings(settings) as database:
        await database.migrate()
        async with database.session() as session:
            await session.execute(sa.text("SELECT 1"))
            # While it is open: SQLite's -wal and -shm files exist, with the database's mode.
            files = [*home.glob("keel.db*"), home / "secret.key"]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert {"keel.db", "keel.db-wal", "keel.db-shm", "secret.key"} <= set(modes)
    assert all(mode == 0o600 for mode in modes.values()), modes


async def test_an_older_world_readable_store_is_tightened(tmp_path: Path) -> None:
    path = private_folder(tmp_path / "old") / "keel.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    async with Database(f"sqlite+aiosqlite:///{path}") as database:
        await database.migrate()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_older_state_folder_is_tightened_but_not_a_shared_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    load_or_create_key_file(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # sticky, like /tmp: other users' files live there too
    private_folder(shared, tighten=True)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
