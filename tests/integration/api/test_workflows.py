"""Workflows through the API: drafts, refused and accepted commits, versions, deletion."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.flows import BROKEN, FIXED, committed, create, finished, start

pytestmark = pytest.mark.integration


async def test_create_commit_refused_fix_commit_run(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/workflows",
        content=BROKEN,
        headers={"Content-Type": "text/yaml"},
        params={"alias": "enrich"},
    )
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert workflow["alias"] == "enrich" and workflow["latest_version"] is None
    assert workflow["title"] == "Enrich" and workflow["draft"] == BROKEN

    refused = await api.post("/workflows/enrich/commit")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert "nothing was committed" in error["message"]
    problems = error["problems"]
    assert len([p for p in problems if p["severity"] == "error"]) >= 3
    by_field = {(p["ref"], p["field"]): p for p in problems}
    assert by_field[("first", "args.value")]["line"] == 11
    assert by_field[("second", "action")]["line"] == 13
    assert any("frist" in p["message"] and p["line"] for p in problems)
    assert (await api.get("/workflows/enrich/versions")).json() == []

    put = await api.put(f"/workflows/{workflow['id']}/draft", json={"yaml": FIXED})
    assert put.status_code == 200 and put.json()["draft"] == FIXED
    commit = await api.post("/workflows/enrich/commit")
    assert commit.status_code == 201, commit.text
    version = commit.json()
    assert version["version"] == 1 and version["id"] == workflow["id"]
    assert version["webhook_url"].startswith(f"http://keel.test/webhooks/{workflow['id']}/")

    execution_id = await start(api, "enrich", {"n": 21})
    detail = await finished(api, execution_id)
    assert detail["status"] == "succeeded", detail
    assert detail["workflow_id"] == workflow["id"] and detail["version"] == 1
    assert detail["trigger_type"] == "api" and detail["title"] == "Enrich"
    actions = {a["ref"]: a for a in detail["actions"]}
    assert actions["first"]["result"] == 42 and actions["first"]["attempts"] == 1
    assert actions["second"]["result"] == {"doubled": 42, "label": "none"}
    assert actions["second"]["status"] == "succeeded"
    assert actions["second"]["duration_ms"] is not None and actions["second"]["started_at"]


async def test_versions_are_immutable_and_readable_as_yaml_or_json(api: httpx.AsyncClient) -> None:
    workflow_id = await committed(api, FIXED, "versions")
    changed = FIXED.replace("doubles n", "doubles n again")
    await api.put(
        f"/workflows/{workflow_id}/draft", content=changed, headers={"Content-Type": "text/yaml"}
    )
    assert (await api.post(f"/workflows/{workflow_id}/commit")).json()["version"] == 2

    listed = (await api.get(f"/workflows/{workflow_id}/versions")).json()
    assert [v["version"] for v in listed] == [1, 2]
    as_yaml = await api.get(f"/workflows/{workflow_id}/versions/1")
    assert as_yaml.headers["content-type"].startswith("text/yaml") and as_yaml.text == FIXED
    as_json = await api.get(
        "/workflows/versions/versions/2", headers={"Accept": "application/json"}
    )
    assert as_json.json()["yaml"] == changed
    assert as_json.json()["definition"]["description"] == "doubles n again"
    assert (await api.get("/workflows/versions")).json()["description"] == "doubles n again"
    missing = await api.get(f"/workflows/{workflow_id}/versions/9")
    assert missing.status_code == 404 and "v9" in missing.json()["error"]["message"]


async def test_list_and_delete(api: httpx.AsyncClient) -> None:
    first = await create(api, FIXED, "one")
    await create(api, BROKEN, "two")
    listed = (await api.get("/workflows")).json()
    assert [w["alias"] for w in listed] == ["one", "two"]
    assert (await api.delete(f"/workflows/{first}")).status_code == 204
    assert (await api.get(f"/workflows/{first}")).status_code == 404
    assert [w["alias"] for w in (await api.get("/workflows")).json()] == ["two"]


async def test_duplicate_alias_is_a_conflict(api: httpx.AsyncClient) -> None:
    await create(api, FIXED, "same")
    response = await api.post("/workflows", json={"yaml": FIXED, "alias": "same"})
    assert response.status_code == 409
    assert "same" in response.json()["error"]["message"]


async def test_inputs_are_checked_before_a_run_starts(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "typed")
    response = await api.post("/workflows/typed/runs", json={"inputs": {"n": "x", "label": 3}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert {p["field"] for p in error["problems"]} == {"inputs.n", "inputs.label"}
    assert (await api.get("/runs")).json()["items"] == []


async def test_the_draft_runs_only_when_asked_and_valid(api: httpx.AsyncClient) -> None:
    workflow_id = await create(api, FIXED, "drafty")
    nothing = await api.post(f"/workflows/{workflow_id}/runs", json={"inputs": {"n": 1}})
    assert nothing.status_code == 409 and "draft" in nothing.json()["error"]["message"]
    execution_id = await start(api, workflow_id, {"n": 2}, draft=True)
    detail = await finished(api, execution_id)
    assert detail["status"] == "succeeded" and detail["version"] is None
    await api.put(f"/workflows/{workflow_id}/draft", json={"yaml": BROKEN})
    broken = await api.post(f"/workflows/{workflow_id}/runs", json={"draft": True})
    assert broken.status_code == 422 and broken.json()["error"]["problems"]


async def test_vars_reach_the_run(api: httpx.AsyncClient) -> None:
    document = FIXED.replace('"${{ TRIGGER.label }}"', '"${{ VARS.team.name }}"')
    await committed(api, document, "withvars")
    made = await api.post("/variables", json={"name": "team", "values": {"name": "blue"}})
    assert made.status_code == 201, made.text
    detail = await finished(api, await start(api, "withvars", {"n": 1}))
    assert detail["actions"][1]["result"] == {"doubled": 2, "label": "blue"}


async def test_a_variable_change_reaches_the_next_run_at_once(api: httpx.AsyncClient) -> None:
    # The API caches VARS briefly (KEEL_VARIABLES_CACHE_SECONDS); its own writes clear the cache.
    document = FIXED.replace('"${{ TRIGGER.label }}"', '"${{ VARS.team.name }}"')
    await committed(api, document, "withvars")
    made = await api.post("/variables", json={"name": "team", "values": {"name": "blue"}})
    assert made.status_code == 201, made.text
    first = await finished(api, await start(api, "withvars", {"n": 1}))
    assert first["actions"][1]["result"]["label"] == "blue"
    changed = await api.put("/variables/team", json={"values": {"name": "red"}})
    assert changed.status_code == 200, changed.text
    second = await finished(api, await start(api, "withvars", {"n": 1}))
    assert second["actions"][1]["result"]["label"] == "red"
    assert (await api.delete("/variables/team")).status_code == 204
    third = await finished(api, await start(api, "withvars", {"n": 1}))
    assert third["actions"][1]["result"]["label"] is None


async def test_apply_creates_commits_and_changes_nothing_when_refused(
    api: httpx.AsyncClient,
) -> None:
    first = await api.post("/workflows/apply", json={"yaml": FIXED, "alias": "enrich"})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["alias"] == "enrich"

    refused = await api.post(
        "/workflows/apply",
        content=BROKEN,
        headers={"Content-Type": "text/yaml"},
        params={"alias": "enrich"},
    )
    assert refused.status_code == 422
    problems = {(p["ref"], p["field"]): p for p in refused.json()["error"]["problems"]}
    assert problems[("first", "args.value")]["line"] == 11
    # Nothing changed: not the versions, and not the draft either.
    workflow = (await api.get("/workflows/enrich")).json()
    assert workflow["draft"] == FIXED and workflow["latest_version"] == 1

    # The same document again adds no version: 200, unchanged, the latest version's number.
    again = await api.post("/workflows/apply", json={"yaml": FIXED, "alias": "enrich"})
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 1 and again.json()["unchanged"] is True
    assert again.json()["webhook_url"] is None  # shown once, when it was made
    assert len((await api.get("/workflows/enrich/versions")).json()) == 1

    # A draft edited since is set back to the applied document, still without a version.
    await api.put("/workflows/enrich/draft", json={"yaml": FIXED + "# draft\n"})
    reset = await api.post("/workflows/apply", json={"yaml": FIXED, "alias": "enrich"})
    assert reset.status_code == 200 and reset.json()["unchanged"] is True
    assert (await api.get("/workflows/enrich")).json()["draft"] == FIXED

    changed = await api.post("/workflows/apply", json={"yaml": FIXED + "# v2\n", "alias": "enrich"})
    assert changed.status_code == 201 and changed.json()["version"] == 2
    assert changed.json()["unchanged"] is False

    nameless = await api.post("/workflows/apply", json={"yaml": FIXED})
    assert nameless.status_code == 422
    assert nameless.json()["error"]["field"] == "alias"
