"""Hand-written Temporal workflows and activities for the raw baseline (no Keel code).

Kept in a module of its own with nothing but ``temporalio`` and the standard library, because
Temporal's sandbox re-imports the module that defines each workflow for every run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

_TIMEOUT = timedelta(seconds=60)


@dataclass(frozen=True)
class TransformInput:
    """Input of :class:`ThreeTransforms`: a small record to reshape three times."""

    n: int
    name: str


@activity.defn(name="bench.increment")
async def increment(value: int) -> int:
    """Return ``value + 1``: the trivial activity every raw scenario uses."""
    return value + 1


@workflow.defn(name="bench.activity_chain")
class ActivityChain:
    """``steps`` sequential regular activities, each fed the previous result."""

    @workflow.run
    async def run(self, steps: int) -> int:
        value = 0
        for _ in range(steps):
            value = await workflow.execute_activity(
                increment, value, start_to_close_timeout=_TIMEOUT
            )
        return value


@workflow.defn(name="bench.local_chain")
class LocalChain:
    """``steps`` sequential local activities, each fed the previous result."""

    @workflow.run
    async def run(self, steps: int) -> int:
        value = 0
        for _ in range(steps):
            value = await workflow.execute_local_activity(
                increment, value, start_to_close_timeout=_TIMEOUT
            )
        return value


@dataclass(frozen=True)
class HttpEcho:
    """Input of ``bench.http_echo`` (and of :class:`LocalHttpChain`): a URL and a number."""

    url: str
    n: int


@workflow.defn(name="bench.local_http_chain")
class LocalHttpChain:
    """``steps`` sequential local activities, each POSTing ``n`` to an echo server (1b-http).

    The activity (``bench.http_echo``) lives with whoever runs this (``bench.chains``): it
    needs an HTTP client, which this module, re-imported by the sandbox, should not import.
    """

    @workflow.run
    async def run(self, call: HttpEcho) -> int:
        value = 0
        for _ in range(call.n):
            value = await workflow.execute_local_activity(
                "bench.http_echo",
                HttpEcho(call.url, value + 1),
                result_type=int,
                start_to_close_timeout=_TIMEOUT,
            )
        return value


@workflow.defn(name="bench.fan_out")
class FanOut:
    """``width`` regular activities started at once; returns the sum of their results."""

    @workflow.run
    async def run(self, width: int) -> int:
        calls = [
            workflow.execute_activity(increment, i, start_to_close_timeout=_TIMEOUT)
            for i in range(width)
        ]
        return sum(await asyncio.gather(*calls))


@workflow.defn(name="bench.three_transforms")
class ThreeTransforms:
    """Three small transforms computed in the workflow itself (no activity)."""

    @workflow.run
    async def run(self, data: TransformInput) -> dict[str, Any]:
        first = {"n": data.n + 1, "name": data.name.upper()}
        second = {"n": first["n"] * 2, "name": first["name"], "size": len(first["name"])}
        return {
            "n": second["n"],
            "summary": f"{second['name']} has {second['size']} letters",
        }


WORKFLOWS = [ActivityChain, LocalChain, LocalHttpChain, FanOut, ThreeTransforms]
ACTIVITIES = [increment]


def expected_transform(data: TransformInput) -> dict[str, Any]:
    """Return what :class:`ThreeTransforms` (and Keel's equivalent) must answer for ``data``."""
    name = data.name.upper()
    return {"n": (data.n + 1) * 2, "summary": f"{name} has {len(name)} letters"}
