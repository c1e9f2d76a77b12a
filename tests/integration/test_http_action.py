"""``core.http_request`` and ``core.http_poll`` against a real HTTP server on loopback."""

from __future__ import annotations

import gzip
import ipaddress
import json
import socket
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest

from keel.actions import egress
from keel.actions.builtin.http import (
    HttpPollError,
    HttpResponseTooLargeError,
    HttpStatusError,
    http_poll,
    http_request,
)
from keel.actions.connections import CURRENT_POOL, ClientPool
from keel.actions.egress import ForbiddenDestinationError, UnresolvableHostError, refusal
from keel.actions.redaction import CURRENT_REDACTOR, MARKER, Redactor
from keel.config import get_settings
from tests.integration.loopback import serving

pytestmark = pytest.mark.integration


class Handler(BaseHTTPRequestHandler):
    """Routes: /json, /text, /echo, /status/<code>, /redirect?to=URL, /poll/<key>?ready_after=N,
    /big?n=N (N bytes; ``length=0`` leaves out Content-Length, ``gzip=1`` compresses them).
    """

    polls: Counter[str] = Counter()
    hosts: list[str] = []

    def do_GET(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def route(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")
        if segments[0] == "json":
            self.reply(200, json.dumps({"ok": True, "n": [1, 2]}), "application/json")
        elif segments[0] == "host":
            Handler.hosts.append(self.headers.get("Host", ""))
            self.reply(200, self.headers.get("Host", ""), "text/plain")
        elif segments[0] == "text":
            self.reply(200, "hello", "text/plain; charset=utf-8")
        elif segments[0] == "echo":
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            echoed = {"method": self.command, "body": body, "query": query}
            self.reply(200, json.dumps(echoed), "application/json")
        elif segments[0] == "status":
            body = "x" * 2000 if query.get("long") else "nope"
            if query.get("echo"):  # a server whose error page quotes the request
                body = f"{self.command} {self.path} {self.headers}"
            self.reply(int(segments[1]), body, "text/plain")
        elif segments[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif segments[0] == "big":
            data = b"x" * int(query["n"])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if query.get("gzip"):
                data = gzip.compress(data)
                self.send_header("Content-Encoding", "gzip")
            if query.get("length") != "0":  # else the body ends when the connection closes
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif segments[0] == "poll":
            Handler.polls[segments[1]] += 1
            ready = Handler.polls[segments[1]] > int(query.get("ready_after", "2"))
            if ready:
                self.reply(200, json.dumps({"done": True}), "application/json")
            else:
                self.reply(202, "", "text/plain")
        else:
            self.reply(404, "no route", "text/plain")

    def reply(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class KeepAlive(Handler):
    """The same routes over HTTP/1.1, so that a connection serves several requests."""

    protocol_version = "HTTP/1.1"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "http_allow_private", True)


@pytest.fixture
def deny_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "http_allow_private", False)


@pytest.mark.usefixtures("allow_private")
class TestRequest:
    async def test_json_is_parsed(self, base_url: str) -> None:
        result = await http_request(f"{base_url}/json")
        assert result["status_code"] == 200
        assert result["data"] == {"ok": True, "n": [1, 2]}
        assert result["headers"]["content-type"] == "application/json"

    async def test_text_stays_text(self, base_url: str) -> None:
        assert (await http_request(f"{base_url}/text"))["data"] == "hello"

    async def test_base64_of_the_bytes(self, base_url: str) -> None:
        result = await http_request(f"{base_url}/text", base64_encode_data=True)
        assert result["data"] == "aGVsbG8="

    async def test_payload_params_and_method(self, base_url: str) -> None:
        result = await http_request(
            f"{base_url}/echo", method="POST", payload={"a": 1}, params={"q": "x"}
        )
        assert result["data"] == {"method": "POST", "body": '{"a":1}', "query": {"q": "x"}}

    @pytest.mark.parametrize(
        "shape",
        ["", "&length=0", "&gzip=1", "&gzip=1&length=0"],
        ids=["declared", "streamed", "gzip", "gzip-streamed"],
    )
    async def test_a_body_past_the_limit_fails_the_call(
        self, base_url: str, shape: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_settings(), "http_max_response_bytes", 64 * 1024)
        fits = await http_request(f"{base_url}/big?n={64 * 1024}{shape}")
        assert fits["data"] == "x" * 64 * 1024
        with pytest.raises(HttpResponseTooLargeError) as info:
            # gzip: 64 KiB + 1 inflated from a few hundred bytes on the wire.
            await http_request(f"{base_url}/big?n={64 * 1024 + 1}{shape}&secret=1")
        assert str(info.value) == (
            f"GET {base_url}/big answered 200 with a body larger than 65536 bytes "
            "(KEEL_HTTP_MAX_RESPONSE_BYTES); nothing of it was kept"
        )

    async def test_the_limit_applies_to_polls_too(
        self, base_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_settings(), "http_max_response_bytes", 4096)
        with pytest.raises(HttpResponseTooLargeError):
            await http_poll(f"{base_url}/big?n=5000&length=0", poll_max_attempts=1)

    async def test_error_status_fails_with_method_url_status_and_body(self, base_url: str) -> None:
        with pytest.raises(HttpStatusError) as info:
            await http_request(f"{base_url}/status/404?long=1")
        message = str(info.value)
        # The query string is left out (it often carries credentials); the body is bounded.
        assert message.startswith(f"GET {base_url}/status/404 returned 404 Not Found: xxx")
        assert message.endswith("...") and len(message) < 300
        assert info.value.status_code == 404
        assert info.value.url == f"{base_url}/status/404"

    async def test_an_error_hides_the_query_user_info_and_the_call_s_secrets(
        self, base_url: str
    ) -> None:
        secret = "sk-TOPSECRET-" + "9" * 20
        redactor = Redactor([secret])
        token = CURRENT_REDACTOR.set(redactor)
        try:
            with pytest.raises(HttpStatusError) as info:
                # /status/401 with ?echo answers the request line: query and all.
                await http_request(
                    base_url.replace("//", f"//user:{secret}@") + "/status/401",
                    params={"api_key": secret, "echo": "1"},
                )
        finally:
            CURRENT_REDACTOR.reset(token)
        assert secret[:8] not in str(info.value)
        assert MARKER in info.value.body
        assert "api_key" not in info.value.url and "user" not in info.value.url

    async def test_ignored_status_is_returned(self, base_url: str) -> None:
        result = await http_request(f"{base_url}/status/404", ignore_status_codes=[404])
        assert (result["status_code"], result["data"]) == (404, "nope")

    async def test_redirects_are_followed_only_when_asked(self, base_url: str) -> None:
        url = f"{base_url}/redirect?to=/json"
        assert (await http_request(url))["status_code"] == 302
        assert (await http_request(url, follow_redirects=True))["data"]["ok"] is True


class TestGuard:
    @pytest.mark.usefixtures("deny_private")
    async def test_loopback_is_refused_by_default(self, base_url: str) -> None:
        with pytest.raises(ForbiddenDestinationError, match=r"127\.0\.0\.1.*loopback"):
            await http_request(f"{base_url}/json")

    @pytest.mark.usefixtures("deny_private")
    async def test_a_refusal_names_the_url_without_its_query_or_user_info(
        self, base_url: str
    ) -> None:
        # The display URL is built only when a request is refused: check what it says then.
        url = base_url.replace("http://", "http://user:pw@") + "/json?api_key=k3y"
        with pytest.raises(ForbiddenDestinationError) as info:
            await http_request(url)
        message = str(info.value)
        assert message.startswith(f"refused to request {base_url}/json: 127.0.0.1 is")
        assert "k3y" not in message and "pw" not in message

    @pytest.mark.usefixtures("allow_private")
    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/",
        ],
    )
    async def test_metadata_is_refused_even_when_private_is_allowed(self, url: str) -> None:
        with pytest.raises(ForbiddenDestinationError, match="metadata"):
            await http_request(url)

    @pytest.mark.usefixtures("allow_private")
    async def test_every_redirect_hop_is_checked(self, base_url: str) -> None:
        url = f"{base_url}/redirect?to=http://169.254.169.254/latest/"
        with pytest.raises(ForbiddenDestinationError, match=r"169\.254\.169\.254"):
            await http_request(url, follow_redirects=True)

    @pytest.mark.usefixtures("allow_private")
    async def test_a_name_still_reaches_loopback_with_its_host_header(self, base_url: str) -> None:
        # The guarded transport connects to the checked address, yet Host names the URL's host.
        port = base_url.rsplit(":", 1)[1]
        result = await http_request(f"http://localhost:{port}/host")
        assert result["data"] == f"localhost:{port}"

    @pytest.mark.usefixtures("deny_private")
    async def test_a_name_that_resolves_to_loopback_is_refused_where_it_connects(
        self, base_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The request hook does not look names up; the connection does, once, and refuses it.
        lookups: list[str] = []

        async def to_loopback(host: str, port: int) -> list[ipaddress.IPv4Address]:
            lookups.append(host)
            return [ipaddress.IPv4Address("127.0.0.1")]

        monkeypatch.setattr(egress, "resolve", to_loopback)
        Handler.hosts.clear()
        port = base_url.rsplit(":", 1)[1]
        with pytest.raises(ForbiddenDestinationError) as info:
            await http_request(f"http://rebind.test:{port}/host")
        assert str(info.value).startswith(
            f"request GET http://rebind.test:{port}/host: refused to connect to rebind.test:"
            f"{port}: rebind.test resolves to 127.0.0.1, a loopback address"
        )
        assert lookups == ["rebind.test"]
        assert Handler.hosts == []  # the loopback server was never reached

    @pytest.mark.usefixtures("allow_private")
    async def test_a_redirect_to_a_refused_name_names_the_request_and_the_hop(
        self, base_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def metadata_behind_a_name(host: str, port: int) -> list[egress.IPAddress]:
            if host == "rebind.test":
                return [ipaddress.IPv4Address("169.254.169.254")]
            return [ipaddress.ip_address(host)]

        monkeypatch.setattr(egress, "resolve", metadata_behind_a_name)
        url = f"{base_url}/redirect?to=http://rebind.test/latest/&token=s3cret"
        with pytest.raises(ForbiddenDestinationError) as info:
            await http_request(url, follow_redirects=True)
        message = str(info.value)
        assert message.startswith(
            f"request GET {base_url}/redirect: refused to connect to rebind.test:80: "
            "rebind.test resolves to 169.254.169.254, "
        )
        assert "s3cret" not in message

    async def test_a_name_that_does_not_resolve_is_a_clear_error(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def nowhere(host: str, port: int) -> list[egress.IPAddress]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        monkeypatch.setattr(egress, "resolve", nowhere)
        with pytest.raises(UnresolvableHostError) as info:
            await http_request("https://nosuch.invalid/api?key=k3y")
        message = str(info.value)
        assert message.startswith(
            "request GET https://nosuch.invalid/api: cannot connect to nosuch.invalid:443: "
            "nosuch.invalid does not resolve"
        )
        assert "k3y" not in message

    @pytest.mark.usefixtures("allow_private")
    async def test_a_name_is_looked_up_once_per_connection_not_per_request(
        self, base_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lookups: list[str] = []
        real = egress.resolve

        async def counted(host: str, port: int) -> list[egress.IPAddress]:
            lookups.append(host)
            return await real(host, port)

        monkeypatch.setattr(egress, "resolve", counted)
        with serving(KeepAlive) as keep_alive_url:
            port = keep_alive_url.rsplit(":", 1)[1]
            await self._three_requests_through_a_pool(port)
        assert lookups == ["localhost"]

    async def _three_requests_through_a_pool(self, port: str) -> None:
        pool = ClientPool()
        token = CURRENT_POOL.set(pool)  # as the executors run actions: keep-alive connections
        try:
            for _ in range(3):
                result = await http_request(f"http://localhost:{port}/host")
                assert result["data"] == f"localhost:{port}"
        finally:
            CURRENT_POOL.reset(token)
            await pool.aclose()

    async def test_the_backend_connects_to_the_address_it_checked(self) -> None:
        answers = iter([["8.8.8.8"], ["127.0.0.1"]])
        connected: list[str] = []

        async def rebinding(host: str, port: int) -> list[ipaddress.IPv4Address]:
            return [ipaddress.IPv4Address(a) for a in next(answers)]

        class Recorder(httpcore.AsyncMockBackend):
            async def connect_tcp(self, host: str, port: int, **kw: Any) -> Any:
                connected.append(host)
                raise httpcore.ConnectError("not in a test")

        backend = egress.GuardedBackend(allow_private=False, resolver=rebinding, inner=Recorder([]))
        with pytest.raises(httpcore.ConnectError):
            await backend.connect_tcp("rebind.test", 80)
        with pytest.raises(ForbiddenDestinationError, match="loopback"):
            await backend.connect_tcp("rebind.test", 80)
        with pytest.raises(ForbiddenDestinationError, match="Unix socket"):
            await backend.connect_unix_socket("/var/run/docker.sock")
        assert connected == ["8.8.8.8"]  # never the name, never the second answer

    @pytest.mark.parametrize(
        ("address", "allow_private", "why"),
        [
            ("10.0.0.1", False, "a private address"),
            ("10.0.0.1", True, None),
            ("::ffff:127.0.0.1", False, "a loopback address"),
            ("100.64.0.1", False, "not a public address"),
            ("fe80::1", True, "a link-local address"),
            ("8.8.8.8", False, None),
        ],
    )
    def test_refusal_reasons(self, address: str, allow_private: bool, why: str | None) -> None:
        assert refusal(ipaddress.ip_address(address), allow_private=allow_private) == why


@pytest.mark.usefixtures("allow_private")
class TestPoll:
    async def test_polls_until_ready(self, base_url: str) -> None:
        result = await http_poll(f"{base_url}/poll/a?ready_after=2", poll_interval=0.01)
        assert result["data"] == {"done": True}
        assert Handler.polls["a"] == 3

    async def test_gives_up_after_max_attempts(self, base_url: str) -> None:
        with pytest.raises(HttpPollError, match=r"after 3 attempt\(s\), 0.01 s apart: status 202"):
            await http_poll(
                f"{base_url}/poll/b?ready_after=9", poll_interval=0.01, poll_max_attempts=3
            )
        assert Handler.polls["b"] == 3

    async def test_polls_until_the_condition_holds(self, base_url: str) -> None:
        result = await http_poll(
            f"{base_url}/poll/c?ready_after=1",
            poll_retry_codes=[],
            poll_condition="lambda response: response['status_code'] == 200",
            poll_interval=0.01,
        )
        assert result["status_code"] == 200
        assert Handler.polls["c"] == 2
