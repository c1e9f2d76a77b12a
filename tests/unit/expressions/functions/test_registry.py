"""Every function of the spec's FN list is registered, with sane arities."""

from __future__ import annotations

import pytest

from keel.expressions.functions import FUNCTIONS

# Hard-coded from the "Functions (FN.)" list of /work/shared/spec/workflow-dsl.md.
SPEC_NAMES = """
capitalize concat endswith format join lowercase uppercase prefix suffix replace slice slugify
split startswith strip titleize url_encode url_decode parse_csv
is_equal not_equal is_not_equal greater_than greater_than_or_equal less_than less_than_or_equal
is_null not_null is_not_null
regex_extract regex_match regex_not_match
compact drop_nulls contains is_in does_not_contain not_in is_not_in contains_any_of
contains_none_of difference intersection union symmetric_difference unique flatten is_empty
not_empty is_not_empty length at zip zip_map iter_product range
add sub mul div mod pow sum min max
lookup map_keys merge flatten_dict to_keys to_values tabulate to_markdown_list
to_markdown_table to_markdown_tasks
and or not
is_json deserialize_json deserialize_ndjson deserialize_yaml serialize_json serialize_yaml
serialize prettify_json
now utcnow today wall_clock datetime to_datetime parse_datetime parse_time to_time
format_datetime to_isoformat to_timestamp from_timestamp set_timezone unset_timezone
get_year get_month get_day get_hour get_minute get_second get_day_of_week
seconds minutes hours days weeks
seconds_between minutes_between hours_between days_between weeks_between
is_working_hours windows_filetime
to_base64 from_base64 to_base64url from_base64url hash_md5 hash_sha1 hash_sha256 hash_sha512
ipv4_in_subnet ipv6_in_subnet ipv4_is_public ipv6_is_public check_ip_version extract_urls
extract_domains extract_emails normalize_email extract_ip extract_ipv4 extract_ipv6 extract_mac
extract_md5 extract_sha1 extract_sha256 extract_sha512 extract_cves extract_asns
""".split()  # noqa: SIM905 (pasted from the spec)

ALIASES = {
    "is_in": "contains",
    "not_in": "does_not_contain",
    "is_not_in": "does_not_contain",
    "is_not_equal": "not_equal",
    "is_not_null": "not_null",
    "is_not_empty": "not_empty",
}


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_function_is_registered(name: str) -> None:
    assert name in FUNCTIONS, f"FN.{name} is in the spec but not registered"
    assert FUNCTIONS[name].name == name


# Tracecat's spellings, added for issue 12 (not in the spec's list).
TRACECAT_NAMES = {"uuid4", "in", "is"}


def test_nothing_is_registered_beyond_the_spec_and_tracecats_spellings() -> None:
    assert set(FUNCTIONS) == set(SPEC_NAMES) | TRACECAT_NAMES


@pytest.mark.parametrize(("alias", "target"), ALIASES.items())
def test_alias_shares_the_implementation(alias: str, target: str) -> None:
    assert FUNCTIONS[alias].impl is FUNCTIONS[target].impl


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("now", 0, 1),  # Tracecat's optional as_isoformat
        ("lowercase", 1, 1),
        ("slice", 2, 3),
        ("format", 1, None),
        ("concat", 0, None),
        ("zip", 0, None),
        ("range", 2, 3),
        ("sum", 1, 2),
        ("min", 1, None),
        ("max", 1, None),
        ("and", 2, None),
        ("not", 1, 1),
        ("lookup", 2, 3),
        ("datetime", 3, 8),
        ("to_datetime", 1, 2),
        ("is_working_hours", 3, 5),
        ("to_timestamp", 1, 2),
        ("regex_extract", 2, 2),
        ("extract_urls", 1, 1),
    ],
)
def test_arity(name: str, low: int, high: int | None) -> None:
    function = FUNCTIONS[name]
    assert (function.min_args, function.max_args) == (low, high)
