"""Webhooks (secret, settings, rotation) and schedules (CRUD)."""

from __future__ import annotations

import hashlib

import pytest

from keel.errors import NotFoundError
from keel.store import schedules, webhooks, workflows
from keel.store.database import Database

pytestmark = pytest.mark.integration


async def test_webhook_lifecycle(db: Database) -> None:
    async with db.session() as s:
        wf = await workflows.create_workflow(s, title="T")
        hook = await webhooks.ensure_webhook(s, wf.id, settings={"methods": ["POST"]})
        assert hook.secret is not None and len(hook.secret) >= 40
        # The secret is given once, when made; the store keeps only its digest.
        again = await webhooks.ensure_webhook(s, wf.id)
        assert again.secret is None and again.row.secret_hash == hook.row.secret_hash
        assert hook.row.secret_hash == hashlib.sha256(hook.secret.encode()).hexdigest()
        assert hook.secret not in repr(hook) and hook.secret not in repr(hook.row)
        old_secret = hook.secret
    async with db.session() as s:
        assert await webhooks.verify_webhook(s, wf.id, old_secret) is not None
        assert await webhooks.verify_webhook(s, wf.id, "wrong") is None
        assert await webhooks.verify_webhook(s, wf.id, hook.row.secret_hash) is None
        rotated = await webhooks.rotate_webhook_secret(s, wf.id)
        assert rotated.secret is not None and rotated.secret != old_secret
        assert await webhooks.verify_webhook(s, wf.id, old_secret) is None
        assert await webhooks.verify_webhook(s, wf.id, rotated.secret) is not None
        updated = await webhooks.update_webhook(s, wf.id, settings={"hmac": "x"}, enabled=False)
        assert (updated.settings, updated.enabled) == ({"hmac": "x"}, False)
        assert await webhooks.verify_webhook(s, wf.id, rotated.secret) is None
        await webhooks.delete_webhook(s, wf.id)
        with pytest.raises(NotFoundError, match="webhook"):
            await webhooks.get_webhook(s, wf.id)
        with pytest.raises(NotFoundError, match="workflow 'wf_missing'"):
            await webhooks.ensure_webhook(s, "wf_missing")


async def test_schedule_lifecycle(db: Database) -> None:
    async with db.session() as s:
        wf = await workflows.create_workflow(s, title="T")
        first = await schedules.create_schedule(
            s, wf.id, spec={"every": "1h"}, inputs={"x": 1}, paused=True
        )
        second = await schedules.create_schedule(s, wf.id, spec={"cron": "0 0 * * *"})
    assert first.id.startswith("sch_")
    async with db.session() as s:
        got = await schedules.get_schedule(s, first.id)
        assert (got.spec, got.inputs, got.paused) == ({"every": "1h"}, {"x": 1}, True)
        assert [r.id for r in await schedules.list_schedules(s)] == [first.id, second.id]
        changed = await schedules.update_schedule(s, first.id, paused=False, inputs={})
        assert (changed.paused, changed.inputs, changed.spec) == (False, {}, {"every": "1h"})
        await schedules.delete_schedule(s, second.id)
        assert [r.id for r in await schedules.list_schedules(s, workflow_id=wf.id)] == [first.id]
        with pytest.raises(NotFoundError, match=f"schedule '{second.id}'"):
            await schedules.get_schedule(s, second.id)
        with pytest.raises(NotFoundError, match="workflow"):
            await schedules.create_schedule(s, "wf_missing", spec={})
