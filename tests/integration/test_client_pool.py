"""The executors' shared HTTP clients: one run's cookies never reach another run's request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from keel.config import get_settings
from keel.execution.base import ActionCall
from keel.execution.local import LocalExecutor

pytestmark = pytest.mark.integration


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (self.headers.get("Cookie") or "").encode()
        self.send_response(200)
        if self.path == "/login":
            self.send_header("Set-Cookie", "session=run-a-session; Path=/")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def base_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(get_settings(), "http_allow_private", True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_cookie_one_call_got_is_not_sent_by_the_next(base_url: str) -> None:
    executor = LocalExecutor()
    try:
        login = await executor.run(ActionCall("core.http_request", {"url": f"{base_url}/login"}))
        assert login.ok, login.error
        assert "run-a-session" in login.result["headers"]["set-cookie"]
        later = await executor.run(ActionCall("core.http_request", {"url": f"{base_url}/echo"}))
    finally:
        await executor.close()
    assert later.ok, later.error
    assert later.result["data"] == ""  # no Cookie header on the next call
