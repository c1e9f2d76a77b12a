"""The service sees the installed action package: listing, commit checks, declared secrets."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.flows import committed, create, finished, start

pytestmark = pytest.mark.integration

LOOKUP = """
title: lookup
description: a package action with a declared secret
actions:
  - ref: lookup
    action: sample.intel.lookup
    args: {ip: "${{ TRIGGER.ip }}"}
returns: ${{ ACTIONS.lookup.result }}
"""


async def test_the_registry_lists_package_actions_with_their_secrets(
    api: httpx.AsyncClient,
) -> None:
    names = [a["name"] for a in (await api.get("/actions")).json()]
    assert {"sample.greetings.greet", "core.require", "core.http_paginate"} <= set(names)
    one = (await api.get("/actions/sample.intel.lookup")).json()
    assert one["kind"] == "python"
    assert one["title"] == "Look an address up"
    assert one["display_group"] == "Sample"
    assert one["secrets"] == [
        {"name": "sample_intel", "keys": ["api_key"], "optional_keys": [], "optional": False}
    ]
    assert one["args_schema"]["properties"]["ip"]["description"] == "The address"


async def test_a_commit_checks_literal_types_of_package_actions(api: httpx.AsyncClient) -> None:
    workflow_id = await create(api, LOOKUP.replace('"${{ TRIGGER.ip }}"', "{a: 1}"), "bad")
    refused = await api.post(f"/workflows/{workflow_id}/commit")
    assert refused.status_code == 422
    text = refused.text
    assert "argument 'ip' must be str, got a mapping (sample.intel.lookup)" in text


async def test_a_declared_secret_comes_from_the_store(api: httpx.AsyncClient) -> None:
    await committed(api, LOOKUP, "lookup")
    missing = await finished(api, await start(api, "lookup", {"ip": "192.0.2.1"}))
    assert missing["status"] == "failed"
    assert "needs secret 'sample_intel'" in str(missing)

    created = await api.post(
        "/secrets", json={"name": "sample_intel", "values": {"api_key": "s3cret"}}
    )
    assert created.status_code in (200, 201), created.text
    done = await finished(api, await start(api, "lookup", {"ip": "192.0.2.1"}))
    assert done["status"] == "succeeded", done
    lookup = next(a for a in done["actions"] if a["ref"] == "lookup")
    assert lookup["result"] == {"ip": "192.0.2.1", "authorized": True, "key_length": 6}
