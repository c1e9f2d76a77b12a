"""The HTTP actions' network backend (``keel.actions.streams``) against real loopback servers.

Each test serves raw HTTP/1.1 from an asyncio server on the test's own loop and calls it through
the actions' guarded transport (guard, coalescing, asyncio streams), or through a bare httpcore
pool on the backend, so TLS, timeouts, a server's close of an idle connection, back-pressure on a
large body and a refused connection are all exercised on real sockets.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keel.actions.connections import guarded_transport
from keel.actions.streams import READ_HIGH_WATER, AsyncioBackend

pytestmark = pytest.mark.integration

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _reply(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """Read one request's head (the tests send no bodies); b"" when the client closed."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


@asynccontextmanager
async def serving(serve: Serve, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Serve ``serve`` per connection on a free loopback port; yield the port."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _client(tls: ssl.SSLContext | None = None, timeout: float = 5.0) -> httpx.AsyncClient:
    context = tls or ssl.create_default_context()
    return httpx.AsyncClient(
        transport=guarded_transport(context, allow_private=True), timeout=timeout
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keel test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_keep_alive_reuses_one_connection() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await _read_request(reader):
            writer.write(_reply(b"hello"))
            await writer.drain()
        writer.close()

    async with serving(serve) as port, _client() as client:
        for _ in range(3):
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert response.text == "hello"
    assert connections == 1


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    # The server answers, then closes without saying so: the pool must notice the idle
    # connection is readable (at its end) and open a new one rather than write into it.
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if await _read_request(reader):
            writer.write(_reply(f"answer {connections}".encode()))
            await writer.drain()
        writer.close()

    async with serving(serve) as port, _client() as client:
        first = await client.get(f"http://127.0.0.1:{port}/")
        await asyncio.sleep(0.05)  # let the close arrive
        second = await client.get(f"http://127.0.0.1:{port}/")
    assert (first.text, second.text) == ("answer 1", "answer 2")


async def test_a_large_body_arrives_whole_through_back_pressure() -> None:
    body = bytes(range(256)) * (4 * READ_HIGH_WATER // 256 + 7)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await _read_request(reader):
            writer.write(_reply(body))
            await writer.drain()
        writer.close()

    async with serving(serve) as port, _client() as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
    assert response.content == body


async def test_a_silent_server_times_the_read_out() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)  # never answers
        writer.close()

    async with serving(serve) as port, _client(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with serving(_read_request_and_close) as port:
        pass  # the port is free again: nothing listens there now
    async with _client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def _read_request_and_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await _read_request(reader)
    writer.close()


async def test_tls_verifies_the_server_and_carries_the_request(
    certificate: tuple[Path, Path],
) -> None:
    cert_file, key_file = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await _read_request(reader):
            path = head.split(b" ")[1]
            writer.write(_reply(b"secure " + path))
            await writer.drain()
        writer.close()

    trusting = ssl.create_default_context(cafile=str(cert_file))
    async with serving(serve, tls=server_tls) as port:
        async with _client(trusting) as client:
            for n in range(2):  # the second request reuses the TLS connection
                response = await client.get(f"https://127.0.0.1:{port}/{n}")
                assert response.text == f"secure /{n}"
        async with _client() as untrusting:  # the system's CAs do not know this certificate
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.get(f"https://127.0.0.1:{port}/")


async def test_the_backend_alone_speaks_to_httpcore() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await _read_request(reader):
            writer.write(_reply(b"bare"))
            await writer.drain()
        writer.close()

    async with (
        serving(serve) as port,
        httpcore.AsyncConnectionPool(network_backend=AsyncioBackend()) as pool,
    ):
        response = await pool.request("GET", f"http://127.0.0.1:{port}/")
        assert response.content == b"bare"
        with pytest.raises(httpcore.ConnectError, match="Unix sockets"):
            await AsyncioBackend().connect_unix_socket("/tmp/nothing.sock")


def test_requests_go_through_on_uvloop_too() -> None:
    # keel api and keel worker run on uvloop (KEEL_EVENT_LOOP=auto), whose transports are not
    # asyncio.Transport subclasses: the backend must take them all the same.
    import uvloop

    async def main() -> tuple[str, str]:
        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            while await _read_request(reader):
                writer.write(_reply(b"hello"))
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            # Bounded: before the fix, the connection was never made and the call hung.
            async with asyncio.timeout(10), _client() as client:
                response = await client.get(f"http://127.0.0.1:{port}/")
        finally:
            server.close()
            for writer in writers:
                writer.close()
        return type(asyncio.get_running_loop()).__module__, response.text

    loop_module, text = uvloop.run(main())
    assert loop_module.startswith("uvloop")
    assert text == "hello"
