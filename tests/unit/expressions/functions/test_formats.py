"""Renderers and serializers: HTML/XML tables, JSON-likeness of YAML and datetimes."""

from __future__ import annotations

import datetime as dt
import json

from keel.expressions.functions import FUNCTIONS


def call(name: str, *args: object) -> object:
    return FUNCTIONS[name].impl(*args)


def test_tabulate_html_escapes() -> None:
    html = call("tabulate", [{"name": "<b>", "n": 1}], "html")
    assert html == (
        "<table><thead><tr><th>name</th><th>n</th></tr></thead>"
        "<tbody><tr><td>&lt;b&gt;</td><td>1</td></tr></tbody></table>"
    )


def test_tabulate_xml_sanitizes_tags() -> None:
    xml = call("tabulate", [{"a b": "x&y", "1st": [1]}], "xml")
    assert xml == "<table><row><a_b>x&amp;y</a_b><_1st>[1]</_1st></row></table>"


def test_markdown_table_renders_nested_values_as_json_and_breaks_lines() -> None:
    table = call("to_markdown_table", [{"k": {"a": 1}, "v": "l1\nl2"}])
    assert table == '| k | v |\n| --- | --- |\n| {"a":1} | l1<br>l2 |'


def test_yaml_sets_and_dates_become_json_like() -> None:
    value = call("deserialize_yaml", "s: !!set {a: null}\nt: 2024-03-15T12:00:00Z\n")
    assert value == {"s": ["a"], "t": "2024-03-15T12:00:00+00:00"}
    json.dumps(value)


def test_serializers_accept_time_values() -> None:
    value = {"d": dt.date(2024, 3, 15), "span": dt.timedelta(minutes=1)}
    assert call("serialize_json", value) == '{"d":"2024-03-15","span":60.0}'
    assert call("serialize_yaml", value) == "d: '2024-03-15'\nspan: 60.0\n"


def test_parse_csv_handles_quotes() -> None:
    rows = call("parse_csv", 'a,b\n"x, y","he said ""hi"""\n')
    assert rows == [{"a": "x, y", "b": 'he said "hi"'}]
