"""``core.http_paginate`` against a real paginated API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from keel.actions.builtin.http import HttpStatusError
from keel.actions.builtin.pagination import PaginationError, http_paginate
from keel.actions.egress import ForbiddenDestinationError
from keel.config import get_settings
from tests.integration.loopback import serving

pytestmark = pytest.mark.integration

ITEMS = list(range(1, 26))  # 25 items, served 10 per page


class Handler(BaseHTTPRequestHandler):
    """``/items?page=N`` -> {items, next}; ``/list?cursor=N`` -> a bare list; ``/loop``."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/items":
            page = int(query.get("page", "1"))
            chunk = ITEMS[(page - 1) * 10 : page * 10]
            more = page * 10 < len(ITEMS)
            self.reply(200, {"items": chunk, "next": page + 1 if more else None})
        elif parts.path == "/list":
            cursor = int(query.get("cursor", "0"))
            self.reply(200, ITEMS[cursor : cursor + 10])
        elif parts.path == "/loop":
            self.reply(200, {"items": []})
        else:
            self.reply(404, {"error": "no route"})

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "http_allow_private", True)


NEXT_PAGE = "lambda r: {'params': {'page': r['data']['next']}}"
LAST_PAGE = "lambda r: r['data']['next'] is None"


@pytest.mark.usefixtures("allow_private")
class TestPaginate:
    async def test_items_are_collected_across_pages(self, base_url: str) -> None:
        result = await http_paginate(
            f"{base_url}/items",
            stop_condition=LAST_PAGE,
            next_request=NEXT_PAGE,
            params={"page": 1},
            items_jsonpath="$.items",
        )
        assert result == ITEMS

    async def test_limit_counts_items(self, base_url: str) -> None:
        result = await http_paginate(
            f"{base_url}/items",
            stop_condition=LAST_PAGE,
            next_request=NEXT_PAGE,
            params={"page": 1},
            items_jsonpath="items",
            limit=12,
        )
        assert result == ITEMS[:12]

    async def test_without_items_jsonpath_the_pages_are_returned(self, base_url: str) -> None:
        pages = await http_paginate(
            f"{base_url}/items",
            stop_condition=LAST_PAGE,
            next_request=NEXT_PAGE,
            params={"page": 1},
        )
        assert [p["status_code"] for p in pages] == [200, 200, 200]
        assert [p["data"]["next"] for p in pages] == [2, 3, None]

    async def test_a_list_body_is_the_items_and_next_request_may_change_the_url(
        self, base_url: str
    ) -> None:
        result = await http_paginate(
            f"{base_url}/list",
            stop_condition="lambda r: len(r['data']) < 10",
            next_request=(f"lambda r: {{'url': '{base_url}/list?cursor=' + str(r['data'][-1])}}"),
            items_jsonpath="$[*]",
        )
        assert result == ITEMS

    async def test_max_pages_bounds_a_walk_that_never_stops(self, base_url: str) -> None:
        with pytest.raises(PaginationError, match="made 3 requests"):
            await http_paginate(
                f"{base_url}/loop",
                stop_condition="lambda r: False",
                next_request="lambda r: {}",
                items_jsonpath="items",
                max_pages=3,
            )

    async def test_next_request_must_return_a_mapping(self, base_url: str) -> None:
        with pytest.raises(PaginationError, match="must return a mapping"):
            await http_paginate(
                f"{base_url}/loop",
                stop_condition="lambda r: False",
                next_request="lambda r: 1",
            )

    async def test_an_error_status_fails_like_http_request(self, base_url: str) -> None:
        with pytest.raises(HttpStatusError):
            await http_paginate(
                f"{base_url}/missing", stop_condition=LAST_PAGE, next_request=NEXT_PAGE
            )


async def test_the_ssrf_guard_applies(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "http_allow_private", False)
    with pytest.raises(ForbiddenDestinationError):
        await http_paginate(f"{base_url}/items", stop_condition=LAST_PAGE, next_request=NEXT_PAGE)
