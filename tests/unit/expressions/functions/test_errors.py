"""Bad input raises TypeError, ValueError or ZeroDivisionError naming what was expected."""

from __future__ import annotations

import re
from typing import Any

import pytest
import regex

from keel.expressions.functions import FUNCTIONS


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].impl(*args)


@pytest.mark.parametrize(
    ("name", "args", "error", "message"),
    [
        ("lowercase", (5,), TypeError, "lowercase expects a string, got int"),
        ("uppercase", (None,), TypeError, "uppercase expects a string, got None"),
        ("split", ("a", ""), ValueError, "non-empty separator"),
        ("join", ("abc", ","), TypeError, "join expects a list of strings, got str"),
        ("join", ([{"a": 1}], ","), TypeError, "join expects strings (or numbers), got dict"),
        ("concat", ("a", [1]), TypeError, "concat expects strings (or numbers), got list"),
        ("slice", ("abc", "1", 2), TypeError, "slice expects an integer start, got str"),
        ("slice", ("abc", 0, -1), ValueError, "length >= 0"),
        ("format", ("{} {}", "a"), ValueError, "needs more values than the 1 given"),
        ("format", ("{0.__class__}", "a"), ValueError, "may not use attribute or index access"),
        ("format", ("{0[0]}", ["a"]), ValueError, "may not use attribute or index access"),
        ("format", ("{:>100000}", "a"), ValueError, "too large"),
        ("format", ("{", "a"), ValueError, "is invalid"),
        ("regex_extract", ("(", "text"), ValueError, "invalid regular expression '('"),
        ("regex_match", ("[a-", "text"), ValueError, "invalid regular expression '[a-'"),
        ("regex_not_match", ("a", 5), TypeError, "regex_not_match expects a string to search"),
        ("greater_than", (1, "a"), TypeError, "greater_than cannot compare int with str"),
        ("less_than", (None, 1), TypeError, "less_than cannot compare None with int"),
        ("div", (1, 0), ZeroDivisionError, "div: cannot divide 1 by zero"),
        ("div", (1, 0.0), ZeroDivisionError, "by zero"),
        ("mod", (5, 0), ZeroDivisionError, "mod: cannot take 5 modulo zero"),
        ("pow", (0, -1), ZeroDivisionError, "zero to a negative power"),
        ("pow", (10, 10**6), ValueError, "exponent 1000000 is larger than"),
        ("pow", (10.0, 400.0), ValueError, "too large"),
        ("pow", (-8, 0.5), ValueError, "not a real number"),
        ("add", (1, "a"), TypeError, "add expects a number, got str"),
        ("add", (True, 1), TypeError, "add expects a number, got bool"),
        ("sub", ("a", 1), TypeError, "sub expects a number, got str"),
        ("sum", ([1, "2"],), TypeError, "sum expects a list of numbers, got str"),
        ("min", ([],), ValueError, "min of an empty list"),
        ("max", (5,), TypeError, "max expects two values or one list, got int"),
        ("max", (1, "a"), TypeError, "max cannot compare str with int"),
        (
            "contains",
            (1, None),
            TypeError,
            "contains expects a list, an object or a string, got None",
        ),
        ("contains", (1, "abc"), TypeError, "only look for a string in a string"),
        ("length", (5,), TypeError, "length expects a list, an object or a string, got int"),
        ("at", ([1], 3), IndexError, "index 3 is out of range for a length of 1"),
        ("at", ({"a": 1}, 0), TypeError, "at expects a list or a string, got dict"),
        ("zip_map", (["a"], [1, 2]), ValueError, "zip_map got 1 keys but 2 values"),
        ("range", (0, 10, 0), ValueError, "step other than 0"),
        ("range", (0, 10**9), ValueError, "more than 1000000"),
        ("iter_product", (list(range(1000)), list(range(1000)), [1, 2]), ValueError, "more than"),
        ("unique", ("abc",), TypeError, "unique expects a list, got str"),
        ("flatten", (None,), TypeError, "flatten expects a list, got None"),
        ("lookup", ("abc", "a"), TypeError, "lookup expects an object or a list, got str"),
        ("lookup", ([1], "a"), TypeError, "integer index"),
        ("merge", ([{"a": 1}, 2],), TypeError, "merge expects objects, got int"),
        ("map_keys", ([], {}), TypeError, "map_keys expects an object, got list"),
        ("flatten_dict", ("x",), TypeError, "flatten_dict expects an object or a list, got str"),
        ("flatten_dict", ({"a": {"b": {"c": 1}}}, 1), ValueError, "deeper than 1 levels"),
        ("to_keys", ([1],), TypeError, "to_keys expects an object, got list"),
        ("tabulate", ([{"a": 1}], "pdf"), ValueError, "tabulate format must be one of"),
        ("to_markdown_table", ([1],), TypeError, "list of objects, got an item of int"),
        ("deserialize_json", ("{bad",), ValueError, "deserialize_json: invalid JSON"),
        ("deserialize_json", (5,), TypeError, "deserialize_json expects JSON text, got int"),
        ("deserialize_ndjson", ('{"a":1}\nnope',), ValueError, "(line 2)"),
        ("deserialize_yaml", ("a: [",), ValueError, "deserialize_yaml: invalid YAML"),
        ("serialize_json", ({"a": object()},), TypeError, "not JSON serializable"),
        ("serialize", ({}, "toml"), ValueError, "serialize format must be one of json, yaml"),
        ("from_base64", ("not base64!",), ValueError, "from_base64: not valid base64"),
        ("from_base64", ("/w==",), ValueError, "not UTF-8 text"),
        ("from_base64url", ("a*b=",), ValueError, "from_base64url: not valid base64"),
        ("to_base64", (b"x",), TypeError, "to_base64 expects a string, got bytes"),
        ("hash_sha256", (1,), TypeError, "hash_sha256 expects a string, got int"),
        ("ipv4_in_subnet", ("::1", "10.0.0.0/8"), ValueError, "expects an IPv4 address, got '::1'"),
        ("ipv4_in_subnet", ("10.0.0.1", "nope"), ValueError, "expects an IPv4 subnet, got 'nope'"),
        ("ipv6_is_public", ("1.2.3.4",), ValueError, "expects an IPv6 address"),
        ("check_ip_version", ("1.2.3",), ValueError, "check_ip_version expects an IP address"),
        ("extract_urls", (5,), TypeError, "extract_urls expects a string or a list of strings"),
        ("extract_ipv4", ([1],), TypeError, "a string or a list of strings, got list"),
        ("normalize_email", ("not-an-email",), ValueError, "expects an email address"),
        (
            "to_datetime",
            ("yesterday-ish",),
            ValueError,
            "to_datetime expects an ISO 8601 date-time",
        ),
        ("to_datetime", ([],), TypeError, "to_datetime expects a datetime, an ISO 8601 string"),
        (
            "to_datetime",
            ("2024-01-01", "Mars/Olympus"),
            ValueError,
            "unknown time zone 'Mars/Olympus'",
        ),
        ("datetime", (2024, 2, 30), ValueError, "datetime: day is out of range"),
        ("datetime", (2024, "2", 1), TypeError, "datetime expects integer parts, got str"),
        ("parse_datetime", ("2024", "%d/%m"), ValueError, "'2024' does not match '%d/%m'"),
        ("parse_time", ("25:99",), ValueError, "parse_time expects a time like"),
        (
            "to_timestamp",
            ("2024-01-01", "h"),
            ValueError,
            "to_timestamp unit must be one of s, ms, us, ns",
        ),
        ("from_timestamp", ("123",), TypeError, "from_timestamp expects a numeric timestamp"),
        ("from_timestamp", (10**20,), ValueError, "out of range"),
        ("get_day_of_week", ("2024-01-01", "iso"), ValueError, "number, full or short"),
        ("seconds", ("5",), TypeError, "seconds expects a number, got str"),
        ("days", (10**10,), ValueError, "out of range"),
        (
            "is_working_hours",
            ("2024-01-01T10:00:00", "9am", "17:00"),
            ValueError,
            "time like '09:00'",
        ),
        (
            "is_working_hours",
            ("2024-01-01T10:00:00", "09:00", "17:00", "yes"),
            TypeError,
            "boolean",
        ),
        ("windows_filetime", ("1",), TypeError, "windows_filetime expects an integer FILETIME"),
        ("to_isoformat", ("2024-01-01", "hours!"), ValueError, "to_isoformat"),
    ],
)
def test_error(name: str, args: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call(name, *args)


def test_errors_chain_no_internal_traceback_noise() -> None:
    with pytest.raises(ValueError) as info:
        call("regex_extract", "(unclosed", "x")
    assert isinstance(info.value.__cause__, regex.error)  # FN regexes run on `regex` (timeouts)
