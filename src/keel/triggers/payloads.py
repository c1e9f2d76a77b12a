"""Reads a webhook body within its size limit, and turns it into payloads by content type.

:func:`parse_payload` returns a *list* of payloads, one per run to start:

============================================  =================================================
Content type                                  Payloads
============================================  =================================================
``application/json``, ``*/*+json``            ``[value]``
``application/x-ndjson``, ``application/      one per non-blank line; a bad line is a 400
jsonl`` (and ``json-lines`` variants)         naming its line number; more lines than
                                              ``max_runs_per_request`` is a 413
``application/x-www-form-urlencoded``         ``[{name: value}]``; a repeated name gives a list
``multipart/form-data``                       as a form; a file part gives ``{"filename",
                                              "content_type", "size", "content_base64"}``
``text/*`` and any other type                 ``[text]`` (decoded with the ``charset``
                                              parameter, UTF-8 by default)
no ``Content-Type``                           ``[value]`` if the body is JSON, else ``[text]``
============================================  =================================================

An empty (or all-whitespace) body gives ``[{}]`` whatever the type: a ping starts one run whose
``TRIGGER`` is an empty object, which ``expects`` defaults can fill. A body that cannot be read
as its type is a :class:`~keel.errors.WebhookError` with status 400 saying why, and so is JSON
nested deeper than ``KEEL_MAX_JSON_DEPTH`` (see :mod:`keel.triggers.bounds`), and so is a number
JSON cannot carry (``NaN``, ``Infinity``, or one too large for a float, such as ``1e999999``). A
``charset`` that is unknown, not a text encoding (``base64``, ``rot13``...) or not a name at all
is a 400 naming it. Every line of an NDJSON body is read and checked before the payloads are
returned, so a bad line anywhere starts no run at all. Lines end at a line feed only (NDJSON's
separator; a carriage return before it is whitespace), never at the other characters
:meth:`str.splitlines` knows, which a JSON string may hold raw (U+2028, U+0085). Counts are
bounded before anything is parsed: NDJSON lines by ``max_runs_per_request`` and form fields by
:data:`MAX_FORM_FIELDS` (413 naming the limit), multipart parts by :data:`MAX_MULTIPART_PARTS`.

Parsing is synchronous and costs up to ~1 s for a large body; the caller runs it in a worker
thread above :data:`INLINE_PARSE_BYTES` (see :func:`keel.triggers.webhook.receive`).
"""

from __future__ import annotations

import base64
import codecs
import json
import math
import re
from collections.abc import AsyncIterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from keel.errors import WebhookError
from keel.triggers.bounds import DEFAULT_BOUNDS, InputBounds

_NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-lines",
    }
)
_FORM_TYPE = "application/x-www-form-urlencoded"
_MULTIPART_TYPE = "multipart/form-data"
#: The most parts a multipart body may have (Starlette's default ``max_fields`` too). The
#: standard library's parser costs about half a millisecond per part, in the API's event loop:
#: a 1 MiB body of 18,000 tiny parts held an API process for 7 seconds before this bound.
MAX_MULTIPART_PARTS = 1000
#: The most fields a URL-encoded form (or a ``GET`` query string) may have, Starlette's default
#: too. Unbounded, 340,000 repeated keys in 1 MiB cost half a second and 43 MB to collect.
MAX_FORM_FIELDS = 1000
#: Bodies up to this size are parsed in the event loop (a typical webhook: a thread hop would
#: cost more than the parse); larger ones in a worker thread, so one big body stalls no one.
INLINE_PARSE_BYTES = 64 * 1024
#: The longest charset name accepted (the longest Python codec alias is under 30 characters).
_MAX_CHARSET_CHARS = 40
#: A non-blank NDJSON line: its first non-space character and the rest of the line.
_NONBLANK_LINE = re.compile(r"\S[^\n]*")


async def read_body(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """Read a request body, refusing it as soon as it grows past ``limit`` bytes.

    At most ``limit`` bytes plus one chunk are ever held, whatever the client sends.

    Args:
        chunks: The body as it streams in (e.g. Starlette's ``request.stream()``).
        limit: The largest body accepted, in bytes.

    Raises:
        WebhookError: 413 once more than ``limit`` bytes have arrived.
    """
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise _too_large(limit)
    return bytes(buffer)


def check_content_length(value: str | None, limit: int) -> None:
    """Refuse a request early when its ``Content-Length`` already exceeds ``limit``.

    This is only a shortcut: a missing or lying header is caught by :func:`read_body`.

    Raises:
        WebhookError: 413 when the declared length is over the limit; 400 when it is not a
            non-negative integer.
    """
    if value is None:
        return
    text = value.strip()
    # ASCII only: str.isdigit() also accepts '²' and other digits int() refuses.
    if not (text.isascii() and text.isdigit()):
        raise WebhookError(400, f"Content-Length {_shown(value)} is not a number of bytes")
    # Compared by length first: int() refuses strings of more than 4,300 digits.
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise _too_large(limit)


def parse_payload(
    body: bytes, content_type: str | None, bounds: InputBounds = DEFAULT_BOUNDS
) -> list[Any]:
    """Turn a raw body into the payloads to start runs with (see the module docstring).

    Args:
        body: The raw body.
        content_type: The ``Content-Type`` header, parameters included, or ``None``.
        bounds: The JSON depth and runs-per-request limits.

    Returns:
        One payload per run; never empty.

    Raises:
        WebhookError: 400 when the body cannot be read as its content type or nests too deep;
            413 when an NDJSON body has more lines than ``bounds.max_runs_per_request``.
    """
    if not body.strip():
        return [{}]
    media, params = _media_type(content_type)
    if media is None:
        text = _decode(body, params.get("charset"))
        try:
            value = _loads(text)
        except (ValueError, RecursionError):
            return [text]
        return [_bounded(value, "body", bounds)]
    if media == "application/json" or media.endswith("+json"):
        return [_bounded(_parse_json(_decode(body, params.get("charset"))), "body", bounds)]
    if media in _NDJSON_TYPES:
        return _parse_ndjson(_decode(body, params.get("charset")), bounds)
    if media == _FORM_TYPE:
        return [parse_form(body)]
    if media == _MULTIPART_TYPE:
        return [_parse_multipart(body, content_type or "")]
    return [_decode(body, params.get("charset"))]


def parse_form(data: bytes) -> dict[str, str | list[str]]:
    """Read URL-encoded form data (a body, or a query string for ``GET`` deliveries).

    Raises:
        WebhookError: 400 when the data is not UTF-8; 413 when it has more than
            :data:`MAX_FORM_FIELDS` fields.
    """
    # Counted before parsing, cheaply: fields are separated by '&' (parse_qsl splits on it only).
    fields = data.count(b"&") + 1
    if fields > MAX_FORM_FIELDS:
        raise WebhookError(
            413, f"form data has {fields} fields, more than the limit of {MAX_FORM_FIELDS}"
        )
    text = _decode(data, None)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise WebhookError(400, f"form data is not valid UTF-8: {exc.reason}") from None
    return _collect(pairs)


def _parse_json(text: str) -> Any:
    try:
        return _loads(text)
    except json.JSONDecodeError as exc:
        _refuse(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except ValueError as exc:
        _refuse(f"body is not valid JSON: {exc}")
    except RecursionError:
        _refuse("body is not valid JSON: it is nested too deeply")


def _parse_ndjson(text: str, bounds: InputBounds) -> list[Any]:
    cap = bounds.max_runs_per_request
    # Counted before anything is split or parsed: a body of a million tiny lines must cost
    # neither a million-item list (~50 MB for 1 MiB) nor any parsing. The separators bound the
    # lines from above; only past the cap are the non-blank ones counted (lazily) to name them.
    if text.count("\n") + 1 > cap:
        count = sum(1 for _ in _NONBLANK_LINE.finditer(text))
        if count > cap:
            raise _too_many_lines(count, cap)
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if len(lines) > cap:
        raise _too_many_lines(len(lines), cap)
    payloads: list[Any] = []
    for number, line in lines:
        try:
            payloads.append(_bounded(_loads(line), f"line {number}", bounds))
        except json.JSONDecodeError as exc:
            _refuse(f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}")
        except ValueError as exc:
            _refuse(f"line {number} is not valid JSON: {exc}")
        except RecursionError:
            _refuse(f"line {number} is not valid JSON: it is nested too deeply")
    return payloads


def _too_many_lines(count: int, cap: int) -> WebhookError:
    return WebhookError(
        413,
        f"body has {count} NDJSON lines, more than the limit of {cap} runs per request "
        "(KEEL_MAX_RUNS_PER_REQUEST); no run was started",
    )


def _bounded(value: Any, what: str, bounds: InputBounds) -> Any:
    """Return ``value``, or refuse it (400) when it nests deeper than the bounds allow."""
    problem = bounds.depth_problem(value, what)
    if problem is not None:
        _refuse(problem)
    return value


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    _, params = _media_type(content_type)
    if not params.get("boundary"):
        _refuse("multipart body has no boundary parameter in its Content-Type")
    # Counted before parsing, cheaply: each part starts with a delimiter at the start of a line
    # (which its content may not have, by RFC 2046), and the closing delimiter adds one more.
    delimiter = b"\n--" + params["boundary"].encode("latin-1", "replace")
    delimiters = (b"\n" + body).count(delimiter)
    if delimiters - 1 > MAX_MULTIPART_PARTS:
        raise WebhookError(
            413,
            f"multipart body has {delimiters - 1} parts, more than the limit of "
            f"{MAX_MULTIPART_PARTS}",
        )
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        _refuse("body is not valid multipart/form-data")
    pairs: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            _refuse("a multipart part has no name in its Content-Disposition")
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            pairs.append((name, _decode(raw, part.get_content_charset())))
        else:
            file = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(raw),
                "content_base64": base64.b64encode(raw).decode("ascii"),
            }
            pairs.append((name, file))
    return _collect(pairs)


def _collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Gather name/value pairs into a dict; a name given more than once gets a list."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name not in result:
            result[name] = value
        elif isinstance(result[name], list):
            result[name].append(value)
        else:
            result[name] = [result[name], value]
    return result


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


def _no_constant(name: str) -> NoReturn:
    # Python's json reads NaN and Infinity, which are not JSON and break JSON payloads later.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    # 1e999999 is valid JSON syntax that Python reads as inf, which JSON cannot carry onward.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {_shown(text)} is too large for a float")
    return value


def _decode(body: bytes, charset: str | None) -> str:
    encoding = (charset or "utf-8").strip().lower()
    # Checked before the codec lookup, which raises a bare ValueError on a NUL byte.
    if not encoding.isascii() or not encoding.isprintable() or len(encoding) > _MAX_CHARSET_CHARS:
        _refuse(f"charset {_shown(charset or '')} is not a charset name")
    if encoding in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return body.decode(encoding)
    except LookupError:
        # bytes.decode raises it for unknown names and for bytes-to-bytes codecs (base64...).
        _refuse(_charset_problem(encoding, charset or ""))
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8-sig" else _shown(charset or "")
        _refuse(f"body is not valid {name} text: {exc.reason} at byte {exc.start}")
    except UnicodeError as exc:
        # idna, punycode and undefined raise the bare base class, with no position.
        _refuse(f"body cannot be decoded as charset {_shown(charset or '')}: {_shown(str(exc))}")


def _charset_problem(encoding: str, charset: str) -> str:
    """Say why a charset ``bytes.decode`` refused is no use: unknown, or not bytes to text."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return f"unknown charset {_shown(charset)}"
    return f"charset {_shown(charset)} is not a text encoding"


def _media_type(content_type: str | None) -> tuple[str | None, dict[str, str]]:
    if not content_type or not content_type.strip():
        return None, {}
    media, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower() or None, params


def _shown(text: str, limit: int = 40) -> str:
    """Return ``text`` quoted for an error message: escaped, and cut after ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)


def _too_large(limit: int) -> WebhookError:
    return WebhookError(413, f"body is larger than the limit of {limit} bytes")


def _refuse(message: str) -> NoReturn:
    raise WebhookError(400, message)
