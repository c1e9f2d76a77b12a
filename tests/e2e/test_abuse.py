"""Abusive webhook bodies against a real ``keel api`` process and a real ``keel worker``.

The unit and in-process tests check each bound's answer; these check what only separate
processes show: after a stream of abusive requests (bodies far over the size limit, with and
without ``Content-Length``, multipart forms of 18,000 parts, JSON nested 900 levels deep, NDJSON
bodies over the runs-per-request cap), the API process answered each with a clear 4xx, started
no run for any of them, still serves a normal delivery end to end through the worker, and its
memory (``VmRSS``/``VmHWM`` from ``/proc``) stayed bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.orchestration.devserver import TemporalDevServer
from tests.integration.processes.procs import KeelProcess, create_key, free_port, wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024

ECHO = """\
title: Echo
description: answers with what it was sent
triggers:
  - type: webhook
    ref: hook
    args: {wait_timeout_seconds: 60}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
returns: ${{ ACTIONS.echo.result }}
"""

#: How much the API process's peak resident memory may grow over the whole abuse. A body over
#: the size limit is refused after at most the limit and one chunk (1 MiB and a bit); an NDJSON
#: body's lines are counted without splitting it (300,000 lines measured ~3.4 MB at the peak;
#: ~56 MB when they were split first), so the bound is a few bodies' worth and the interpreter's
#: own growth (new code paths, allocator arenas), not the body count.
RSS_GROWTH_LIMIT = 32 * MIB


class Service:
    """A ``keel api`` process and a ``keel worker`` process, with the echo webhook applied."""

    def __init__(self, url: str, api: KeelProcess, webhook: str, headers: dict[str, str]) -> None:
        self.url = url
        self.api = api
        self.webhook = webhook
        self.headers = headers

    def memory(self) -> dict[str, int]:
        """Return the API process's ``VmRSS`` and ``VmHWM`` (peak), in bytes."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.api.popen.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
        return fields

    def runs(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/runs", headers=self.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def echo(self, value: Any) -> None:
        """Deliver ``value`` to the webhook's /wait form; it must come back, run by the worker."""
        answer = httpx.post(f"{self.webhook}/wait", json=value, timeout=90)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "succeeded" and body["result"] == value, body


@pytest.fixture
def service(
    temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path
) -> Iterator[Service]:
    env = {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_HOME": str(tmp_path / "home"),
        "KEEL_TASK_QUEUE": task_queue,
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = KeelProcess(["api", "--port", str(port), "--processes", "1"], env, tmp_path, "api")
    worker = KeelProcess(["worker"], env, tmp_path, "worker")
    try:
        wait_healthy(url, api)
        headers = {"Authorization": f"Bearer {create_key(env, tmp_path)}"}
        applied = httpx.post(
            f"{url}/workflows/apply",
            json={"yaml": ECHO, "alias": "echo"},
            headers=headers,
            timeout=30,
        )
        assert applied.status_code in (200, 201), applied.text
        yield Service(url, api, applied.json()["webhook_url"], headers)
    finally:
        worker.stop()
        api.stop()


def post(url: str, **request: Any) -> httpx.Response | None:
    """POST, returning ``None`` when the server closed the connection while the body was sent.

    A server that refuses a body as soon as it passes the limit may answer and close before the
    client has finished writing; the client then sees a broken connection, not the answer.
    """
    try:
        return httpx.post(url, timeout=60, **request)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body of ``total`` bytes sent in chunks, without a ``Content-Length``."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}


def many_parts(count: int) -> bytes:
    """A multipart form of ``count`` one-character fields (about 56 bytes each)."""
    fields = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % n for n in range(count)
    )
    return fields + b"--b--\r\n"


def nested(depth: int) -> bytes:
    """JSON text ``depth`` arrays deep (written by hand: no recursion needed)."""
    return b"[" * depth + b"1" + b"]" * depth


def test_oversized_bodies_are_refused_and_the_api_stays_small(service: Service) -> None:
    service.echo({"warm": "up"})
    before = service.memory()

    for _ in range(10):
        # A declared size over the limit: refused from the header, before the body is read.
        declared = post(service.webhook, content=b"{" * (8 * MIB))
        assert declared is None or declared.status_code == 413, declared.text
        # No Content-Length: refused as soon as the streamed body passes the limit.
        streamed = post(
            service.webhook, content=chunks(16 * MIB), headers={"Content-Type": "application/json"}
        )
        assert streamed is None or streamed.status_code == 413, streamed.text
        # A multipart body under the size limit, of 18,000 tiny parts: refused by its count.
        fields = post(service.webhook, content=many_parts(18_000), headers=MULTIPART)
        assert fields is not None and fields.status_code == 413, fields
        assert "parts" in fields.json()["error"]["message"]
    refused = httpx.post(service.webhook, content=b"x" * (MIB + 1), timeout=60)
    assert refused.status_code == 413 and "body" in refused.json()["error"]["message"], refused.text

    after = service.memory()
    print(f"\nAPI process memory: before {before}, after {after}")
    assert after["VmHWM"] - before["VmRSS"] < RSS_GROWTH_LIMIT, (before, after)
    assert len(service.runs()) == 1  # the warm-up run only
    assert service.api.popen.poll() is None
    service.echo({"still": "serving"})


def test_deep_json_and_ndjson_over_the_cap_are_4xx_and_start_nothing(service: Service) -> None:
    service.echo({"warm": "up"})
    before = service.memory()
    ndjson = {"Content-Type": "application/x-ndjson"}

    for _ in range(5):
        deep = httpx.post(
            service.webhook,
            content=nested(900),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert deep.status_code == 400, deep.text
        assert "KEEL_MAX_JSON_DEPTH" in deep.json()["error"]["message"]

        # 300,000 tiny lines (600 KB, under the size limit): one request may not start them all.
        many = httpx.post(service.webhook, content=b"{}\n" * 300_000, headers=ndjson, timeout=60)
        assert many.status_code == 413, many.text
        assert "KEEL_MAX_RUNS_PER_REQUEST" in many.json()["error"]["message"]

        # A short NDJSON body with one line too deep: nothing starts, the line is named.
        line = httpx.post(
            service.webhook, content=b'{"a": 1}\n' + nested(900) + b"\n", headers=ndjson, timeout=60
        )
        assert line.status_code == 400 and "line 2" in line.json()["error"]["message"], line.text

    after = service.memory()
    print(f"\nAPI process memory: before {before}, after {after}")
    assert after["VmHWM"] - before["VmRSS"] < RSS_GROWTH_LIMIT, (before, after)
    assert len(service.runs()) == 1  # the warm-up run only: no refused request started a run
    service.echo({"still": ["serving", {"after": "abuse"}]})
    assert service.api.popen.poll() is None  # the same process served it all
