"""Schemathesis over the app's own OpenAPI document: no generated request may yield a 500.

The cases come from the schema in both of schemathesis's modes (valid data, and data that breaks
the schema on purpose), and are sent through the real app with a valid API key, in the test's own
event loop. A workflow is committed first so that routes with ids reach past their 404s.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.integration.api.conftest import BASE_URL

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 16

FLOW = """title: fuzzed
description: a target for the fuzzer
actions:
  - ref: a
    action: core.transform.reshape
    args: {value: 1}
"""


def _cases(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    schema = schemathesis.openapi.from_dict(spec)
    cases = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            with warnings.catch_warnings():
                # .example() is how to draw cases outside a hypothesis test; it says so loudly.
                warnings.simplefilter("ignore")
                for _ in range(EXAMPLES_PER_OPERATION // 2):
                    try:
                        case = strategy.example()
                    except Unsatisfiable:
                        break  # e.g. no request can break the schema of a parameterless GET
                    cases.append((f"{operation.method.upper()} {operation.path}", case))
    return cases


async def test_no_generated_request_gets_a_500(shared_app: tuple[httpx.AsyncClient, str]) -> None:
    client, key = shared_app
    headers = {"Authorization": f"Bearer {key}"}
    created = await client.post(
        "/workflows", json={"yaml": FLOW, "alias": "fuzzed"}, headers=headers
    )
    assert created.status_code in (200, 201), created.text
    spec = (await client.get("/openapi.json")).json()
    cases = _cases(spec)
    assert len(cases) > 50  # the schema really has operations to fuzz
    failures = []
    for name, case in cases:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL)
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):
            kwargs["content"] = kwargs.pop("data")  # httpx's spelling for a raw body
        kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        if "/webhooks/" in name:
            continue  # webhooks have their own secret; their 4xx paths are tested directly
        response = await client.request(**kwargs)
        if response.status_code >= 500:
            failures.append(
                f"{name} {kwargs.get('params')} {kwargs.get('json')!r}: {response.text[:200]}"
            )
    assert not failures, "\n".join(failures[:20])
