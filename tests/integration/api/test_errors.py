"""Malformed requests get a 4xx JSON error that says what is wrong and where; never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.flows import FIXED, committed

pytestmark = pytest.mark.integration

YAML = {"Content-Type": "text/yaml"}
JSON = {"Content-Type": "application/json"}

# (method, path, request kwargs, expected status, expected field or None)
CASES: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    (
        "POST",
        "/workflows",
        {"content": b"<x/>", "headers": {"Content-Type": "application/xml"}},
        415,
        "Content-Type",
    ),
    ("POST", "/workflows", {"content": b"title: x"}, 415, "Content-Type"),
    ("POST", "/workflows", {"content": b"{not json", "headers": JSON}, 400, "body"),
    ("POST", "/workflows", {"json": []}, 422, "body"),
    ("POST", "/workflows", {"json": {"yaml": 3}}, 422, "yaml"),
    ("POST", "/workflows", {"json": {"yaml": "a: 1", "extra": 1}}, 422, "extra"),
    ("POST", "/workflows", {"json": {"yaml": "a: 1", "alias": "not an alias"}}, 422, "alias"),
    ("POST", "/workflows", {"content": b"\xff\xfe\x00", "headers": YAML}, 400, "body"),
    ("POST", "/workflows?alias=a%20b", {"content": b"title: x", "headers": YAML}, 422, "alias"),
    ("POST", "/workflows", {"content": b"x" * 1_000_001, "headers": YAML}, 413, "body"),
    ("GET", "/workflows/nope", {}, 404, None),
    ("PUT", "/workflows/nope/draft", {"json": {"yaml": "a: 1"}}, 404, None),
    ("POST", "/workflows/nope/commit", {}, 404, None),
    ("DELETE", "/workflows/nope", {}, 404, None),
    ("GET", "/workflows/nope/versions", {}, 404, None),
    ("GET", "/workflows/nope/versions/abc", {}, 422, "version"),
    ("GET", "/workflows?limit=0", {}, 422, "limit"),
    ("POST", "/workflows/nope/runs", {"json": {}}, 404, None),
    ("POST", "/workflows/nope/runs", {"content": b"[[", "headers": JSON}, 422, "body"),
    ("POST", "/workflows/nope/runs", {"json": {"version": 0}}, 422, "version"),
    ("POST", "/workflows/nope/runs", {"json": {"surprise": 1}}, 422, "surprise"),
    ("GET", "/runs/nope", {}, 404, None),
    ("GET", "/runs/nope/events", {}, 404, None),
    ("POST", "/runs/nope/cancel", {}, 404, None),
    ("POST", "/runs/nope/terminate", {}, 404, None),
    ("POST", "/runs/nope/rerun", {}, 404, None),
    ("GET", "/runs?status=bogus", {}, 422, "status"),
    ("GET", "/runs?cursor=garbage", {}, 400, "cursor"),
    ("GET", "/runs?limit=0", {}, 422, "limit"),
    ("GET", "/runs?limit=100000", {}, 422, "limit"),
    ("GET", "/runs?started_after=yesterday", {}, 422, "started_after"),
    ("GET", "/actions/core.transform.reshap", {}, 404, "name"),
    ("POST", "/secrets", {"json": {"name": "bad name", "values": {"k": "v"}}}, 422, "name"),
    ("POST", "/secrets", {"json": {"name": "ok", "values": {}}}, 422, "values"),
    ("POST", "/secrets", {"json": {"name": "ok", "values": {"k": {"nested": 1}}}}, 422, "values.k"),
    (
        "POST",
        "/secrets?environment=a%20b",
        {"json": {"name": "ok", "values": {"k": "v"}}},
        422,
        "environment",
    ),
    ("PUT", "/secrets/bad-name", {"json": {"values": {"k": "v"}}}, 422, "name"),
    ("DELETE", "/secrets/missing", {}, 404, None),
    ("GET", "/variables/missing", {}, 404, None),
    ("POST", "/variables", {"json": {"name": "v", "values": 3}}, 422, "values"),
    ("DELETE", "/apikeys/nope", {}, 404, None),
    ("POST", "/apikeys", {"json": {"name": ""}}, 422, "name"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    CASES,
    ids=[f"{c[0]} {c[1][:40]} {c[3]}" for c in CASES],
)
async def test_malformed_requests_get_json_errors(
    shared_app: tuple[httpx.AsyncClient, str],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    client, key = shared_app
    headers = {**kwargs.get("headers", {}), "Authorization": f"Bearer {key}"}
    rest = {k: v for k, v in kwargs.items() if k != "headers"}
    response = await client.request(method, path, headers=headers, **rest)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if field is not None:
        assert field in (error["field"] or ""), error


async def test_broken_yaml_is_a_draft_and_a_located_refusal(api: httpx.AsyncClient) -> None:
    created = await api.post("/workflows", content="title: [unclosed\nactions: {", headers=YAML)
    assert created.status_code == 201 and created.json()["title"] == "untitled"
    refused = await api.post(f"/workflows/{created.json()['id']}/commit")
    assert refused.status_code == 422
    (problem,) = refused.json()["error"]["problems"]
    assert problem["line"] and "YAML" in problem["message"].upper()


async def test_inputs_of_the_wrong_shape(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "shape")
    response = await api.post("/workflows/shape/runs", json={"inputs": [1, 2]})
    assert response.status_code == 422 and response.json()["error"]["field"] == "inputs"
    both = await api.post("/workflows/shape/runs", json={"version": 1, "draft": True})
    assert both.status_code == 422 and both.json()["error"]["field"] == "version"
    nine = await api.post("/workflows/shape/runs", json={"version": 9, "inputs": {"n": 1}})
    assert nine.status_code == 404


async def test_registry(shared_app: tuple[httpx.AsyncClient, str]) -> None:
    client, key = shared_app
    auth = {"Authorization": f"Bearer {key}"}
    actions = (await client.get("/actions", headers=auth)).json()
    names = [a["name"] for a in actions]
    assert names == sorted(names) and "core.http_request" in names
    one = (await client.get("/actions/core.transform.apply", headers=auth)).json()
    assert {"value", "python_lambda"} <= set(one["args_schema"]["properties"])
    assert one["description"]
    missing = await client.get("/actions/core.transform.reshap", headers=auth)
    assert "did you mean 'core.transform.reshape'" in missing.json()["error"]["message"]
