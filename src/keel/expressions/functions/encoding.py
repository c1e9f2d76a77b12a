"""FN encoding and hashing functions: base64, base64url and hex digests of UTF-8 text."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_str


def _decode(fname: str, x: str, altchars: bytes | None) -> str:
    text = re.sub(r"\s+", "", expect_str(fname, x))
    text += "=" * (-len(text) % 4)  # tolerate missing padding (JWT segments have none)
    try:
        raw = base64.b64decode(text, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{fname}: not valid base64: {exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{fname}: the decoded bytes are not UTF-8 text") from exc


@fn("to_base64")
def to_base64(x: str) -> str:
    """Encode a string's UTF-8 bytes as base64."""
    return base64.b64encode(expect_str("to_base64", x).encode()).decode("ascii")


@fn("from_base64")
def from_base64(x: str) -> str:
    """Decode base64 into a UTF-8 string (whitespace and missing padding are tolerated)."""
    return _decode("from_base64", x, None)


@fn("to_base64url")
def to_base64url(x: str) -> str:
    """Encode a string's UTF-8 bytes as URL-safe base64 (with padding)."""
    return base64.urlsafe_b64encode(expect_str("to_base64url", x).encode()).decode("ascii")


@fn("from_base64url")
def from_base64url(x: str) -> str:
    """Decode URL-safe base64 into a UTF-8 string (missing padding is tolerated)."""
    return _decode("from_base64url", x, b"-_")


@fn("hash_md5")
def hash_md5(x: str) -> str:
    """Return the MD5 hex digest of a string's UTF-8 bytes."""
    return hashlib.md5(expect_str("hash_md5", x).encode(), usedforsecurity=False).hexdigest()


@fn("hash_sha1")
def hash_sha1(x: str) -> str:
    """Return the SHA-1 hex digest of a string's UTF-8 bytes."""
    return hashlib.sha1(expect_str("hash_sha1", x).encode(), usedforsecurity=False).hexdigest()


@fn("hash_sha256")
def hash_sha256(x: str) -> str:
    """Return the SHA-256 hex digest of a string's UTF-8 bytes."""
    return hashlib.sha256(expect_str("hash_sha256", x).encode()).hexdigest()


@fn("hash_sha512")
def hash_sha512(x: str) -> str:
    """Return the SHA-512 hex digest of a string's UTF-8 bytes."""
    return hashlib.sha512(expect_str("hash_sha512", x).encode()).hexdigest()
