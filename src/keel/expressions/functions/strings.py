"""FN functions on strings: case, slicing, splitting, formatting, URL quoting, CSV and regexes."""

from __future__ import annotations

import csv
import io
import re
import string
import time
import unicodedata
import urllib.parse
from typing import Any

import regex

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import (
    expect_int,
    expect_list,
    expect_size,
    expect_str,
    scalar_text,
    type_name,
)
from keel.expressions.limits import BUDGET, current
from keel.expressions.sizes import rendered_length

#: Largest width or precision in a ``format`` placeholder (``{:>10}``).
MAX_FORMAT_NUMBER = 10_000


@fn("capitalize")
def capitalize(x: str) -> str:
    """Upper-case the first character and lower-case the rest."""
    return expect_str("capitalize", x).capitalize()


@fn("titleize")
def titleize(x: str) -> str:
    """Upper-case the first letter of every word."""
    return expect_str("titleize", x).title()


@fn("lowercase")
def lowercase(x: str) -> str:
    """Convert a string to lower case."""
    return expect_str("lowercase", x).lower()


@fn("uppercase")
def uppercase(x: str) -> str:
    """Convert a string to upper case."""
    return expect_str("uppercase", x).upper()


@fn("concat")
def concat(*items: Any) -> str:
    """Join strings (numbers are printed) with nothing between them."""
    parts = [scalar_text("concat", item) for item in items]
    expect_size("concat", sum(map(len, parts)))
    return "".join(parts)


@fn("join")
def join(items: list[Any], sep: str = "") -> str:
    """Join the strings of a list with a separator."""
    values = expect_list("join", items, "a list of strings")
    separator = expect_str("join", sep, "a string separator")
    parts = [scalar_text("join", item) for item in values]
    expect_size("join", sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0))
    return separator.join(parts)


@fn("split")
def split(x: str, sep: str | None = None, maxsplit: int = -1) -> list[str]:
    """Split a string on a separator (on runs of whitespace when it is omitted or None)."""
    text = expect_str("split", x)
    if sep is not None:
        expect_str("split", sep, "a string separator")
        if sep == "":
            raise ValueError("split expects a non-empty separator")
    return text.split(sep, expect_int("split", maxsplit))


@fn("startswith")
def startswith(x: str, prefix: str) -> bool:
    """Tell whether a string starts with a prefix."""
    return expect_str("startswith", x).startswith(expect_str("startswith", prefix))


@fn("endswith")
def endswith(x: str, suffix: str) -> bool:
    """Tell whether a string ends with a suffix."""
    return expect_str("endswith", x).endswith(expect_str("endswith", suffix))


@fn("prefix")
def prefix(x: str | list[str], p: str) -> str | list[str]:
    """Put a prefix before a string, or before each string of a list."""
    expect_str("prefix", p, "a string prefix")
    if isinstance(x, list):
        items = [expect_str("prefix", item, "strings") for item in x]
        expect_size("prefix", sum(map(len, items)) + len(p) * len(items))
        return [p + item for item in items]
    return p + expect_str("prefix", x, "a string or a list of strings")


@fn("suffix")
def suffix(x: str | list[str], s: str) -> str | list[str]:
    """Put a suffix after a string, or after each string of a list."""
    expect_str("suffix", s, "a string suffix")
    if isinstance(x, list):
        items = [expect_str("suffix", item, "strings") for item in x]
        expect_size("suffix", sum(map(len, items)) + len(s) * len(items))
        return [item + s for item in items]
    return expect_str("suffix", x, "a string or a list of strings") + s


@fn("replace")
def replace(x: str, old: str, new: str) -> str:
    """Replace every occurrence of ``old`` with ``new``."""
    text, before = expect_str("replace", x), expect_str("replace", old)
    after = expect_str("replace", new)
    if len(after) > len(before):
        expect_size("replace", len(text) + text.count(before) * (len(after) - len(before)))
    return text.replace(before, after)


@fn("slice")
def slice_(x: str, start: int, length: int | None = None) -> str:
    """Take ``length`` characters from index ``start`` (to the end when ``length`` is omitted)."""
    text = expect_str("slice", x)
    begin = expect_int("slice", start, "an integer start")
    if length is None:
        return text[begin:]
    count = expect_int("slice", length, "an integer length")
    if count < 0:
        raise ValueError(f"slice expects a length >= 0, got {count}")
    end = begin + count
    # A negative start counts from the end; a length reaching past the end takes the rest.
    return text[begin:] if begin < 0 <= end else text[begin:end]


@fn("strip")
def strip(x: str, chars: str | None = None) -> str:
    """Remove leading and trailing whitespace (or the given characters)."""
    if chars is not None:
        expect_str("strip", chars, "a string of characters")
    return expect_str("strip", x).strip(chars)


def _check_template(template: str) -> None:
    """Refuse placeholders that reach into attributes or items."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"format template '{template}' is invalid: {exc}") from exc
    for _, field, spec, _ in parts:
        if field and ("." in field or "[" in field):
            raise ValueError(
                f"format placeholder '{{{field}}}' may not use attribute or index access"
            )
        if spec:
            _check_template(spec)


class _BoundedFormatter(string.Formatter):
    """``str.format`` that checks each field's width and text size before building it.

    Widths may come from the values (``'{:{}}'``), so they are checked once resolved, in
    :meth:`format_field`; ``!r`` and ``{}`` of a container build the whole text, so its size is
    estimated first.
    """

    def __init__(self, budget: int) -> None:
        self.left = budget

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            self._spend(value, 0)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        width = max((int(n) for n in re.findall(r"\d+", format_spec)), default=0)
        if width > MAX_FORMAT_NUMBER:
            raise ValueError(
                f"format width or precision in '{format_spec}' is too large "
                f"(limit {MAX_FORMAT_NUMBER:,})"
            )
        self._spend(value, width)
        return super().format_field(value, format_spec)

    def _spend(self, value: Any, width: int) -> None:
        self.left -= rendered_length(value, self.left) + width
        if self.left < 0:
            limit = current().max_length
            raise ValueError(
                f"format result would be longer than {limit:,} characters (KEEL_MAX_VALUE_LENGTH)"
            )


@fn("format")
def format_(template: str, *values: Any) -> str:
    """Fill the ``{}`` placeholders of a template with the values, as ``str.format`` does."""
    text = expect_str("format", template, "a string template")
    _check_template(text)
    limit = current().max_length
    expect_size("format", len(text))
    try:
        return _BoundedFormatter(limit - len(text)).format(text, *values)
    except (IndexError, KeyError) as exc:
        raise ValueError(
            f"format template '{text}' needs more values than the {len(values)} given"
        ) from exc
    except ValueError as exc:
        if "format result" in str(exc) or "format width" in str(exc):
            raise
        raise ValueError(f"format template '{text}' is invalid: {exc}") from exc


@fn("slugify")
def slugify(x: str) -> str:
    """Turn text into a lower-case, hyphen-separated ASCII slug (``Hi there`` -> ``hi-there``)."""
    text = unicodedata.normalize("NFKD", expect_str("slugify", x))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@fn("url_encode")
def url_encode(x: str, safe: str = "/") -> str:
    """Percent-encode a string for a URL (``/`` is kept unless ``safe`` says otherwise)."""
    return urllib.parse.quote(expect_str("url_encode", x), safe=expect_str("url_encode", safe))


@fn("url_decode")
def url_decode(x: str) -> str:
    """Decode a percent-encoded string."""
    return urllib.parse.unquote(expect_str("url_decode", x))


@fn("parse_csv")
def parse_csv(x: str) -> list[dict[str, Any]]:
    """Parse CSV text with a header row into a list of objects, one per row."""
    reader = csv.DictReader(io.StringIO(expect_str("parse_csv", x, "CSV text")))
    try:
        return [dict(row) for row in reader]
    except csv.Error as exc:
        raise ValueError(f"parse_csv could not parse the text: {exc}") from exc


def _compile(fname: str, pattern: Any) -> regex.Pattern[str]:
    try:
        return regex.compile(expect_str(fname, pattern, "a string pattern"))
    except regex.error as exc:
        raise ValueError(f"{fname}: invalid regular expression '{pattern}': {exc}") from exc


def _subject(fname: str, text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{fname} expects a string to search, got {type_name(text)}")
    return text


def _search(fname: str, pattern: Any, text: Any, *, anchored: bool) -> regex.Match[str] | None:
    """Run one search with a wall-clock bound: backtracking can take exponential time.

    A search may take ``regex_seconds``, and all the searches of one budget (an evaluation, or
    a workflow task in workflow code) that much together.
    """
    compiled, subject = _compile(fname, pattern), _subject(fname, text)
    budget = BUDGET.get()
    seconds = current().regex_seconds
    if budget is not None:
        seconds = min(seconds, budget.regex_left)
    started = time.monotonic()
    try:
        if seconds <= 0:
            raise TimeoutError
        if anchored:
            return compiled.match(subject, timeout=seconds)
        return compiled.search(subject, timeout=seconds)
    except TimeoutError:
        if budget is not None:
            # The search stopped at its allowance: what the clock says is left (the regex
            # engine checks its timeout coarsely) is not time later searches may have.
            budget.regex_left = 0.0
        raise ValueError(
            f"{fname}: the regular expression '{pattern}' ran out of time on a text of "
            f"{len(subject):,} characters (searches may take {current().regex_seconds:g} s in "
            "all, KEEL_REGEX_SECONDS); simplify it (nested repetition such as (a+)+ or (a|aa)+ "
            "backtracks exponentially)"
        ) from None
    finally:
        if budget is not None:
            budget.regex_left -= time.monotonic() - started


@fn("regex_extract")
def regex_extract(pattern: str, text: str) -> str | None:
    """Return the first group of the first match (or the whole match, or None)."""
    match = _search("regex_extract", pattern, text, anchored=False)
    if match is None:
        return None
    found: str | None = match.group(1) if match.groups() else match.group(0)
    return found


@fn("regex_match")
def regex_match(pattern: str, text: str) -> bool:
    """Tell whether the pattern matches at the start of the text (as ``re.match``)."""
    return _search("regex_match", pattern, text, anchored=True) is not None


@fn("regex_not_match")
def regex_not_match(pattern: str, text: str) -> bool:
    """Tell whether the pattern does not match at the start of the text."""
    return _search("regex_not_match", pattern, text, anchored=True) is None
