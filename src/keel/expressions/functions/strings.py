"""FN functions on strings: case, slicing, splitting, formatting, URL quoting, CSV and regexes."""

from __future__ import annotations

import csv
import io
import re
import string
import unicodedata
import urllib.parse
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import (
    expect_int,
    expect_list,
    expect_str,
    scalar_text,
    type_name,
)

#: Longest string ``format`` may build, so a template cannot exhaust memory.
MAX_FORMAT_LENGTH = 10_000_000
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
    return "".join(scalar_text("concat", item) for item in items)


@fn("join")
def join(items: list[Any], sep: str = "") -> str:
    """Join the strings of a list with a separator."""
    values = expect_list("join", items, "a list of strings")
    separator = expect_str("join", sep, "a string separator")
    return separator.join(scalar_text("join", item) for item in values)


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
        return [p + expect_str("prefix", item, "strings") for item in x]
    return p + expect_str("prefix", x, "a string or a list of strings")


@fn("suffix")
def suffix(x: str | list[str], s: str) -> str | list[str]:
    """Put a suffix after a string, or after each string of a list."""
    expect_str("suffix", s, "a string suffix")
    if isinstance(x, list):
        return [expect_str("suffix", item, "strings") + s for item in x]
    return expect_str("suffix", x, "a string or a list of strings") + s


@fn("replace")
def replace(x: str, old: str, new: str) -> str:
    """Replace every occurrence of ``old`` with ``new``."""
    return expect_str("replace", x).replace(expect_str("replace", old), expect_str("replace", new))


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
    """Refuse placeholders that reach into attributes or items, or ask for huge widths."""
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
            if any(int(n) > MAX_FORMAT_NUMBER for n in re.findall(r"\d+", spec)):
                raise ValueError(f"format width or precision in '{spec}' is too large")
            _check_template(spec)


@fn("format")
def format_(template: str, *values: Any) -> str:
    """Fill the ``{}`` placeholders of a template with the values, as ``str.format`` does."""
    text = expect_str("format", template, "a string template")
    _check_template(text)
    try:
        result = text.format(*values)
    except (IndexError, KeyError) as exc:
        raise ValueError(
            f"format template '{text}' needs more values than the {len(values)} given"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"format template '{text}' is invalid: {exc}") from exc
    if len(result) > MAX_FORMAT_LENGTH:
        raise ValueError(f"format result is longer than {MAX_FORMAT_LENGTH} characters")
    return result


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


def _compile(fname: str, pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(expect_str(fname, pattern, "a string pattern"))
    except re.error as exc:
        raise ValueError(f"{fname}: invalid regular expression '{pattern}': {exc}") from exc


def _subject(fname: str, text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{fname} expects a string to search, got {type_name(text)}")
    return text


@fn("regex_extract")
def regex_extract(pattern: str, text: str) -> str | None:
    """Return the first group of the first match (or the whole match, or None)."""
    match = _compile("regex_extract", pattern).search(_subject("regex_extract", text))
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


@fn("regex_match")
def regex_match(pattern: str, text: str) -> bool:
    """Tell whether the pattern matches at the start of the text (as ``re.match``)."""
    return _compile("regex_match", pattern).match(_subject("regex_match", text)) is not None


@fn("regex_not_match")
def regex_not_match(pattern: str, text: str) -> bool:
    """Tell whether the pattern does not match at the start of the text."""
    return _compile("regex_not_match", pattern).match(_subject("regex_not_match", text)) is None
