"""The HTTP edge of a real ``keel api`` process: slow clients are cut off, forwarded headers
are believed only from configured proxies.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from keel.orchestration.devserver import TemporalDevServer
from tests.integration.processes.procs import (
    KeelProcess,
    create_key,
    free_port,
    wait_healthy,
)

pytestmark = pytest.mark.integration

ALLOWLISTED = """\
title: Allowlisted
description: accepts deliveries from 192.0.2.0/24 only
triggers:
  - type: webhook
    ref: hook
    args: {allowlist: [192.0.2.0/24]}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
"""


@contextmanager
def start_api(
    temporal: TemporalDevServer, home: Path, task_queue: str, **settings: str
) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        "KEEL_TEMPORAL_ADDRESS": temporal.address,
        "KEEL_HOME": str(home),
        "KEEL_TASK_QUEUE": task_queue,
        **settings,
    }
    port = free_port()
    api = KeelProcess(["api", "--port", str(port)], env, home.parent, f"api-{port}")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, api)
        yield url, env
    finally:
        api.stop()


@pytest.fixture
def api(
    temporal_server: TemporalDevServer, tmp_path: Path, task_queue: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """A ``keel api`` process with 1-second read timeouts and default proxy settings."""
    with start_api(
        temporal_server,
        tmp_path / "home",
        task_queue,
        KEEL_API_HEADER_TIMEOUT="1",
        KEEL_API_BODY_TIMEOUT="1",
    ) as started:
        yield started


def closed_by_server(sock: socket.socket) -> bool:
    """Return whether the server closed the connection before the socket's timeout.

    The server may answer first (a 404 before the body was read); what matters is that it
    does not keep the connection open for the slow client.
    """
    try:
        while sock.recv(1024):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_slow_clients_are_cut_off(api: tuple[str, dict[str, str]]) -> None:
    url, _ = api
    port = int(url.rsplit(":", 1)[1])

    # Half-sent headers: the connection is closed after the header timeout (1 s here).
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: keel\r\nX-Slow: ")
        assert closed_by_server(sock)

    # A client that connects and sends nothing at all.
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        assert closed_by_server(sock)

    # Headers in time, then a body trickled too slowly.
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(
            b"POST /webhooks/wf_x/secret HTTP/1.1\r\nHost: keel\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": '
        )
        assert closed_by_server(sock)

    # A prompt client on a kept-alive connection is served, request after request, and a
    # request whose body comes in pieces (each in time) is read whole.
    with httpx.Client(base_url=url) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/health").status_code == 200
        pieces = http.post("/webhooks/wf_x/secret", content=iter([b'{"a": ', b"1}"]))
        assert pieces.status_code == 404, pieces.text
        assert http.get("/health").status_code == 200


def test_a_request_head_over_the_bound_is_refused(api: tuple[str, dict[str, str]]) -> None:
    url, _ = api
    port = int(url.rsplit(":", 1)[1])
    # Each header line is small; together they pass MAX_HEAD_BYTES (64 KiB).
    answer = b""
    # The server may answer and close before the last lines are sent.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=20) as sock,
        contextlib.suppress(ConnectionResetError, BrokenPipeError),
    ):
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: keel\r\n")
        for number in range(100):
            sock.sendall(f"X-Filler-{number}: {'x' * 1000}\r\n".encode())
        sock.sendall(b"\r\n")
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]

    # Pipelined requests on one connection: both answered, in order.
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        one = b"GET /health HTTP/1.1\r\nHost: keel\r\n\r\n"
        sock.sendall(one + one[:-2] + b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:400]


def apply_allowlisted(url: str, env: dict[str, str], home: Path) -> str:
    key = create_key(env, home.parent)
    headers = {"Authorization": f"Bearer {key}"}
    body = {"yaml": ALLOWLISTED, "alias": "allowlisted"}
    applied = httpx.post(f"{url}/workflows/apply", json=body, headers=headers, timeout=30)
    assert applied.status_code in (200, 201), applied.text
    webhook: str = applied.json()["webhook_url"]
    return webhook


def test_forwarded_for_is_not_believed_by_default(
    api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = api
    webhook = apply_allowlisted(url, env, tmp_path / "home")
    answer = httpx.post(webhook, json={"a": 1}, headers={"X-Forwarded-For": "192.0.2.5"})
    assert answer.status_code == 403, answer.text


def test_forwarded_for_is_believed_from_a_trusted_proxy(
    temporal_server: TemporalDevServer, tmp_path: Path, task_queue: str
) -> None:
    home = tmp_path / "home"
    with start_api(temporal_server, home, task_queue, KEEL_API_TRUSTED_PROXIES="127.0.0.1") as (
        url,
        env,
    ):
        webhook = apply_allowlisted(url, env, home)
        forwarded = httpx.post(webhook, json={"a": 1}, headers={"X-Forwarded-For": "192.0.2.5"})
        assert forwarded.status_code == 202, forwarded.text
        direct = httpx.post(webhook, json={"a": 1})
        assert direct.status_code == 403, direct.text
