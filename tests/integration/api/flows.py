"""Workflow documents and helpers shared by the API tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

BROKEN = """\
title: Enrich
description: three mistakes
entrypoint:
  ref: first
  expects:
    n: {type: int}
actions:
  - ref: first
    action: core.transform.reshape
    args:
      value: ${{ TRIGGER.n + }}
  - ref: second
    action: core.transform.nope
    depends_on: [frist]
    args: {value: 1}
"""

FIXED = """\
title: Enrich
description: doubles n
entrypoint:
  ref: first
  expects:
    n: {type: int}
    label: {type: str, default: none}
actions:
  - ref: first
    action: core.transform.reshape
    args:
      value: ${{ TRIGGER.n * 2 }}
  - ref: second
    action: core.transform.reshape
    depends_on: [first]
    args:
      value: {doubled: "${{ ACTIONS.first.result }}", label: "${{ TRIGGER.label }}"}
    mask_output: false
returns: ${{ ACTIONS.second.result }}
"""

FAILING = """\
title: Divide
description: fails when d is 0
actions:
  - ref: start
    action: core.transform.reshape
    args: {value: 10}
  - ref: divide
    action: core.transform.apply
    depends_on: [start]
    args: {value: "${{ TRIGGER.d }}", python_lambda: "lambda d: 10 // d"}
returns: ${{ ACTIONS.divide.result }}
"""

SLOW = """\
title: Slow
description: waits before it answers
actions:
  - ref: wait
    action: core.transform.reshape
    start_delay: 30
    args: {value: done}
"""


async def create(api: httpx.AsyncClient, document: str, alias: str | None = None) -> str:
    """Create a workflow and return its id."""
    response = await api.post("/workflows", json={"yaml": document, "alias": alias})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def committed(api: httpx.AsyncClient, document: str, alias: str | None = None) -> str:
    """Create and commit a workflow; return its id."""
    workflow_id = await create(api, document, alias)
    response = await api.post(f"/workflows/{workflow_id}/commit")
    assert response.status_code == 201, response.text
    return workflow_id


async def start(api: httpx.AsyncClient, workflow: str, inputs: Any = None, **body: Any) -> str:
    """Start a run and return its execution id."""
    response = await api.post(f"/workflows/{workflow}/runs", json={"inputs": inputs, **body})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def finished(
    api: httpx.AsyncClient, execution_id: str, timeout: float = 20
) -> dict[str, Any]:
    """Poll ``GET /runs/{id}`` until the run is neither queued nor running; return its detail."""
    async with asyncio.timeout(timeout):
        while True:
            response = await api.get(f"/runs/{execution_id}")
            assert response.status_code == 200, response.text
            detail: dict[str, Any] = response.json()
            if detail["status"] not in ("queued", "running"):
                return detail
            await asyncio.sleep(0.1)
