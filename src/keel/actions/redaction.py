"""Keeps the secret values a run read out of every text that leaves an action call.

Secrets are resolved inside the ``keel.run_action`` activity (never in the workflow). Whatever
leaves that activity (the result, the error message, log records written while the call runs)
ends in Temporal's history, the run's events, the store and API answers, so the activity gives
each call a :class:`Redactor` that knows the values it read and replaces them, and their common
encodings, with :data:`MARKER`:

- the value itself, as JSON escapes it (quotes and backslashes inside a value) and URL-encoded
  (``%2F`` and ``+`` forms), so a secret in a query string or a JSON echo is caught;
- its base64 (standard and URL-safe alphabets) at each of the three byte alignments, so it is
  caught inside a longer base64 text too (``Authorization: Basic base64(user:secret)``);
- a cut-off start of any of these at the very end of a text or before ``...``, where a bounded
  excerpt cut a secret in two.

The redactor of the running call is in :data:`CURRENT_REDACTOR` (context variables follow the
call into its tasks and the in-process executor's threads), so code that bounds a text before it
leaves (``core.http_request``'s response excerpt) redacts first, and :func:`install_log_redaction`
makes every log record written during the call pass through it.

Values shorter than :data:`MIN_SECRET_LENGTH` are not redacted: replacing ``"1"`` everywhere
would make every text unreadable while hiding nothing a guess could not find.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import traceback
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, quote_plus

#: What a secret value is replaced with.
MARKER = "[REDACTED]"
#: Shorter values are left alone (see the module docstring).
MIN_SECRET_LENGTH = 4
#: Shortest encoded fragment (base64 at an alignment) worth matching; shorter ones are noise.
_MIN_FRAGMENT = 6
#: Shortest cut-off start of a secret redacted at the end of a text.
_MIN_TAIL = 6
#: Most ``...`` places of one text checked for a cut-off secret.
_MAX_CUTS = 16
_ELLIPSIS = re.compile(r"\.\.\.")


class Redactor:
    """Replaces a set of secret values (and their encodings) in texts and JSON-like values.

    Args:
        values: The secret values to hide; more can be added with :meth:`add`.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._variants: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    @property
    def values(self) -> tuple[str, ...]:
        """The secret values hidden (for a redactor in another process: a Ray worker's)."""
        return tuple(sorted(self._values))

    def __bool__(self) -> bool:
        """Whether there is anything to redact."""
        return bool(self._variants)

    def add(self, values: Iterable[str]) -> None:
        """Hide ``values`` too (each with its encodings)."""
        before = len(self._variants)
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self._values.add(value)
                self._variants |= _variants(value)
        if len(self._variants) != before:
            # Longest first, so a value is replaced whole before a shorter one inside it.
            ordered = sorted(self._variants, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def text(self, text: str, *, cut: bool = True) -> str:
        """Return ``text`` with every secret value (whole, encoded, or cut off) replaced.

        Args:
            text: The text.
            cut: Also replace a cut-off start of a secret where the text ends or says ``...``
                (texts that were bounded); results, which Keel never cuts, skip it.
        """
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(MARKER, text)
        return self._cut_tails(text) if cut else text

    def value(self, value: Any) -> Any:
        """Return a JSON-like value with every string (keys too) redacted (whole values only)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value, cut=False)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _cut_tails(self, text: str) -> str:
        """Replace the start of a secret where a bound cut the text (at its end, or ``...``)."""
        ends = [m.start() for m in _ELLIPSIS.finditer(text)][:_MAX_CUTS]
        ends.append(len(text))
        for end in reversed(ends):  # right to left, so earlier positions stay valid
            longest = 0
            for variant in self._variants:
                for size in range(min(len(variant) - 1, end), max(longest, _MIN_TAIL - 1), -1):
                    if text.endswith(variant[:size], 0, end):
                        longest = size
                        break
            if longest:
                text = text[: end - longest] + MARKER + text[end:]
        return text


def _variants(value: str) -> set[str]:
    """Return ``value`` and the encodings of it that a text may carry."""
    found = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value, safe="")}
    raw = value.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            fragment = _aligned(encode(b"\0" * offset + raw).decode("ascii"), offset, len(raw))
            if len(fragment) >= _MIN_FRAGMENT:
                found.add(fragment)
    return found


def _aligned(encoded: str, offset: int, length: int) -> str:
    """Return the base64 characters that depend on the secret's bytes alone.

    The secret starts ``offset`` bytes into the encoded data; a character holds 6 bits, so only
    the characters whose bits all lie inside the secret appear whatever surrounds it.
    """
    first = -(-offset * 8 // 6)  # ceil: skip characters sharing bits with what comes before
    last = ((offset + length) * 8) // 6  # exclusive: drop characters sharing bits with after
    return encoded[first:last]


#: The redactor of the action call running in this context, if it read secrets.
CURRENT_REDACTOR: ContextVar[Redactor | None] = ContextVar("keel_redactor", default=None)


def redact(text: str) -> str:
    """Return ``text`` redacted by the current call's redactor (unchanged outside a call)."""
    redactor = CURRENT_REDACTOR.get()
    return redactor.text(text) if redactor else text


def install_log_redaction() -> None:
    """Make every log record written during an action call hide that call's secrets.

    A log record factory (process-wide, installed once, chained to the previous factory) formats
    the message and any traceback at once when the current context has a redactor, and stores
    the redacted text, so every handler and formatter sees only that.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "keel_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor = CURRENT_REDACTOR.get()
        if redactor:
            _redact_record(record, redactor)
        return record

    factory.keel_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: keep its parts, redacted, rather than lose it
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redactor.text(message), None
    if record.exc_info:
        formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        # Formatters print exc_text when set; dropping exc_info keeps the raw one out of reach.
        record.exc_text, record.exc_info = redactor.text(formatted), None
    if record.stack_info:
        record.stack_info = redactor.text(record.stack_info)
