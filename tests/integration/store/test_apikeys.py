"""API keys: shown once, stored hashed, verified, revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from keel.errors import NotFoundError
from keel.store import apikeys
from keel.store.database import Database

pytestmark = pytest.mark.integration


async def test_create_verify_list_revoke(db: Database) -> None:
    async with db.session() as s:
        new = await apikeys.create_api_key(s, "ci")
    assert new.key.startswith(f"keel_{new.prefix}_")
    assert new.key not in repr(new)
    async with db.engine.connect() as connection:
        raw = (await connection.execute(text("SELECT * FROM api_keys"))).all()
    assert new.key not in str(raw)
    async with db.session() as s:
        row = await apikeys.verify_api_key(s, new.key)
        assert row is not None
        assert (row.id, row.last_used_at is not None) == (new.id, True)
        assert await apikeys.verify_api_key(s, new.key[:-1] + "x") is None
        assert await apikeys.verify_api_key(s, "keel_000000000000_nope") is None
        assert await apikeys.verify_api_key(s, "not a key") is None
        assert [k.id for k in await apikeys.list_api_keys(s)] == [new.id]
        revoked = await apikeys.revoke_api_key(s, new.id)
        assert revoked.revoked_at is not None
    async with db.session() as s:
        assert await apikeys.verify_api_key(s, new.key) is None
        assert list(await apikeys.list_api_keys(s)) == []
        assert [k.id for k in await apikeys.list_api_keys(s, include_revoked=True)] == [new.id]
        with pytest.raises(NotFoundError, match="API key 'key_missing'"):
            await apikeys.revoke_api_key(s, "key_missing")
