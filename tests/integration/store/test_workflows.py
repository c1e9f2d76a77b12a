"""Workflows and versions: create, find by id or alias, drafts, version numbering, delete."""

from __future__ import annotations

import pytest

from keel.errors import ConflictError, NotFoundError
from keel.store import schedules, webhooks, workflows
from keel.store.database import Database

pytestmark = pytest.mark.integration

DOC = "title: Triage\nentrypoint: {ref: a}\nactions: []\n"


async def test_create_get_list_update(db: Database) -> None:
    async with db.session() as s:
        created = await workflows.create_workflow(s, title="Triage", yaml=DOC, alias="triage")
    assert created.id.startswith("wf_")
    async with db.session() as s:
        by_id = await workflows.get_workflow(s, created.id)
        by_alias = await workflows.get_workflow(s, "triage")
        assert by_id.id == by_alias.id == created.id
        assert by_id.draft_yaml == DOC
        assert by_id.created_at.tzinfo is not None
        await workflows.create_workflow(s, title="Other")
        assert [w.title for w in await workflows.list_workflows(s)] == ["Triage", "Other"]
        assert [w.title for w in await workflows.list_workflows(s, search="TRI")] == ["Triage"]
        await workflows.update_workflow(s, "triage", title="Triage v2", alias="triage-2")
    async with db.session() as s:
        row = await workflows.get_workflow(s, "triage-2")
        assert row.title == "Triage v2"
        assert await workflows.find_workflow(s, "triage") is None
        await workflows.update_workflow(s, row.id, alias=None)
        assert (await workflows.get_workflow(s, row.id)).alias is None


async def test_duplicate_alias_is_a_conflict(db: Database) -> None:
    async with db.session() as s:
        first = await workflows.create_workflow(s, title="A", alias="triage")
    with pytest.raises(ConflictError, match=f"'triage'.*{first.id}"):
        async with db.session() as s:
            await workflows.create_workflow(s, title="B", alias="triage")
    async with db.session() as s:
        other = await workflows.create_workflow(s, title="C", alias="other")
    with pytest.raises(ConflictError, match="triage"):
        async with db.session() as s:
            await workflows.update_workflow(s, other.id, alias="triage")
    with pytest.raises(ConflictError, match="looks like a workflow id"):
        async with db.session() as s:
            await workflows.create_workflow(s, title="D", alias="wf_123")


async def test_missing_workflow_is_not_found(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(NotFoundError, match="workflow 'nope' not found"):
            await workflows.get_workflow(s, "nope")


async def test_draft_and_versions(db: Database) -> None:
    async with db.session() as s:
        wf = await workflows.create_workflow(s, title="T", yaml="draft: 1")
        assert await workflows.latest_version(s, wf.id) is None
        await workflows.update_draft(s, wf.id, "broken: [")
    async with db.session() as s:
        v1 = await workflows.commit_version(s, wf.id, yaml="v: 1", definition={"title": "T"})
        v2 = await workflows.commit_version(s, wf.id, yaml="v: 2", definition={"n": [1, 2]})
    assert (v1.version, v2.version) == (1, 2)
    async with db.session() as s:
        assert (await workflows.get_workflow(s, wf.id)).draft_yaml == "broken: ["
        assert [v.version for v in await workflows.list_versions(s, wf.id)] == [1, 2]
        latest = await workflows.latest_version(s, wf.id)
        assert latest is not None
        assert (latest.version, latest.definition) == (2, {"n": [1, 2]})
        assert (await workflows.get_version(s, wf.id, 1)).yaml == "v: 1"
        with pytest.raises(NotFoundError, match=r"workflow version '.* v9'"):
            await workflows.get_version(s, wf.id, 9)
        # Numbering is per workflow.
        other = await workflows.create_workflow(s, title="O")
        first = await workflows.commit_version(s, other.id, yaml="", definition={})
        assert first.version == 1


async def test_delete_cascades_to_versions_webhook_and_schedules(db: Database) -> None:
    async with db.session() as s:
        wf = await workflows.create_workflow(s, title="T", alias="gone")
        await workflows.commit_version(s, wf.id, yaml="", definition={})
        await webhooks.ensure_webhook(s, wf.id)
        await schedules.create_schedule(s, wf.id, spec={"cron": "0 * * * *"})
    async with db.session() as s:
        await workflows.delete_workflow(s, "gone")
    async with db.session() as s:
        assert await workflows.find_workflow(s, wf.id) is None
        assert await webhooks.find_webhook(s, wf.id) is None
        assert list(await schedules.list_schedules(s, workflow_id=wf.id)) == []
        with pytest.raises(NotFoundError):
            await workflows.delete_workflow(s, wf.id)
