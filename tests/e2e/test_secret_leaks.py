"""A secret a run reads appears nowhere: history, events, run views, answers, logs, database files.

The run sends its secret in a header, in a query string and as a wrong-typed argument to a
loopback server that answers 401 quoting the whole request (and, once, 200 echoing it back), so
every way an action's text leaves the worker carries the secret unless Keel hides it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from keel.actions.redaction import MARKER
from keel.api.app import create_app
from keel.api.server import ApiServer
from keel.api.state import ServiceState
from keel.cli.main import app as cli
from keel.config import get_settings
from keel.store.secrets import set_secret
from tests.e2e.conftest import commit, path_of

pytestmark = pytest.mark.integration

TOKEN = "tok-" + secrets.token_urlsafe(24)

LEAKY = """\
title: Leaky
description: hands its secret to a server that quotes it back
triggers:
  - {type: webhook, ref: hook, args: {wait_timeout_seconds: 30}}
actions:
  - ref: in_header
    action: core.http_request
    args:
      url: ${{ TRIGGER.base }}/deny
      headers: {Authorization: "Bearer ${{ SECRETS.leak.token }}"}
  - ref: in_query
    action: core.http_request
    depends_on: [in_header.error]
    args:
      url: ${{ TRIGGER.base }}/deny
      params: {api_key: "${{ SECRETS.leak.token }}"}
  - ref: wrong_type
    action: core.http_request
    depends_on: [in_query.error]
    args:
      url: ${{ TRIGGER.base }}/echo
      timeout: ${{ SECRETS.leak.token }}
  - ref: echoed
    action: core.http_request
    depends_on: [wrong_type.error]
    args:
      url: ${{ TRIGGER.base }}/echo
      auth: {username: me, password: "${{ SECRETS.leak.token }}"}
returns:
  errors:
    - ${{ ACTIONS.in_header.error.message }}
    - ${{ ACTIONS.in_query.error.message }}
    - ${{ ACTIONS.wrong_type.error.message }}
  echoed: ${{ ACTIONS.echoed.result.data }}
"""


class Quoting(BaseHTTPRequestHandler):
    """``/deny``: 401 quoting the request line and headers; ``/echo``: 200 echoing them as JSON."""

    seen: list[str] = []

    def do_GET(self) -> None:
        quoted = f"{self.command} {self.path}\n{self.headers}"
        Quoting.seen.append(quoted)
        if self.path.startswith("/deny"):
            self.reply(401, f"unauthorized request:\n{quoted}", "text/plain")
        else:
            echoed = {"path": self.path, "headers": dict(self.headers.items())}
            self.reply(200, json.dumps(echoed), "application/json")

    def reply(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def quoting_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quoting)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def forms(value: str) -> list[bytes]:
    """The secret as it could be written: raw, URL-encoded, base64 (alone, or in Basic auth)."""
    basic = base64.b64encode(f"me:{value}".encode())
    return [
        value.encode(),
        quote(value, safe="").encode(),
        base64.b64encode(value.encode()).rstrip(b"="),
        basic,
        value[: len(value) // 2].encode(),  # half of it, as a cut-off excerpt would leave
    ]


def assert_hidden(where: str, data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for form in forms(TOKEN):
        assert form not in raw, f"the secret ({form!r}) leaked into {where}"


@pytest.mark.usefixtures("quoting_server")
async def test_a_secret_appears_nowhere(
    api: httpx.AsyncClient,
    service: ServiceState,
    temporal_client: Client,
    quoting_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(get_settings(), "http_allow_private", True)
    async with service.database.session() as session:
        await set_secret(session, service.cipher, "leak", {"token": TOKEN})
    hook = path_of((await commit(api, LEAKY, "leaky"))["webhook_url"])
    Quoting.seen.clear()

    answer = await api.post(f"{hook}/wait", json={"base": quoting_server})
    assert answer.status_code == 200, answer.text
    execution_id = answer.json()["execution_id"]
    assert answer.json()["status"] == "succeeded", answer.text

    # The server did get the secret each time: the run really used it.
    assert len(Quoting.seen) == 3 and all(TOKEN in q or "Basic" in q for q in Quoting.seen)
    assert_hidden("the /wait answer", answer.text)
    result = answer.json()["result"]
    header_error, query_error, type_error = result["errors"]
    assert "returned 401 Unauthorized" in header_error and MARKER in header_error
    assert query_error.startswith(f"GET {quoting_server}/deny returned 401")  # no query
    assert "argument 'timeout' must be float, got str of length" in type_error
    assert MARKER in json.dumps(result["echoed"])

    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    # Binary protobuf: payloads are raw bytes there (the JSON form base64-encodes them).
    events = b"".join(event.SerializeToString() for event in history.events)
    assert_hidden("the Temporal history", events)
    assert_hidden("the Temporal history (JSON)", history.to_json())
    assert_hidden("the run's events", (await api.get(f"/runs/{execution_id}/events")).text)
    detail = await api.get(f"/runs/{execution_id}")
    assert detail.status_code == 200 and detail.json()["status"] == "succeeded"
    assert_hidden("GET /runs/{id}", detail.text)
    assert_hidden("the run list", (await api.get("/runs")).text)

    key = api.headers["Authorization"].removeprefix("Bearer ")
    async with ApiServer(create_app(service), "127.0.0.1", 0) as server:
        for args in (["runs", "show", execution_id], ["runs", "show", execution_id, "--json"]):
            shown = await asyncio.to_thread(
                CliRunner().invoke, cli, [*args, "--url", server.url, "--api-key", key]
            )
            assert shown.exit_code == 0, shown.output
            assert_hidden("keel runs show", shown.output)

    assert_hidden("the logs", caplog.text)
    captured = capfd.readouterr()
    assert_hidden("stderr", captured.err)
    assert_hidden("stdout", captured.out)
    await service.database.engine.dispose()  # let the WAL settle; its files stay to be read
    files = sorted(tmp_path.glob("keel.db*"))
    assert any(f.name == "keel.db" for f in files)
    for path in files:
        assert_hidden(f"the database file {path.name}", path.read_bytes())
