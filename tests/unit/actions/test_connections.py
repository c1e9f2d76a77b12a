"""The HTTP actions' pooled clients: what their trimmed httpx/httpcore pieces still do."""

from __future__ import annotations

import httpx

from keel.actions.connections import ClientPool, _Pool


class _Connection:
    """Stands in for a connection the pool dropped: records that it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_the_pool_closes_the_connections_it_dropped() -> None:
    pool = _Pool()
    dropped = [_Connection(), _Connection()]
    await pool._close_connections(dropped)  # type: ignore[arg-type]
    assert all(connection.closed for connection in dropped)
    await pool._close_connections([])  # nothing to close: nothing happens, nothing fails


async def test_a_pooled_client_keeps_no_cookie() -> None:
    pool = ClientPool()
    client = pool.get("key", httpx.AsyncClient)
    request = httpx.Request("GET", "http://example.test/")
    response = httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, request=request)
    client.cookies.extract_cookies(response)
    assert not client.cookies
    assert "cookie" not in client.build_request("GET", "http://example.test/").headers
    await pool.aclose()
