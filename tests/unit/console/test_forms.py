"""The Run form generated from entrypoint.expects, and reading it back."""

from __future__ import annotations

from keel.console.forms import form_fields, read_form

DEFINITION = {
    "entrypoint": {
        "expects": {
            "count": {"type": "int", "description": "how many"},
            "ratio": {"type": "float", "default": 0.5},
            "loud": {"type": "bool", "default": False},
            "tone": {"type": 'enum["warm", "dry"]', "default": "dry"},
            "tags": {"type": "list[str]", "default": ["a"]},
            "when": {"type": "datetime", "optional": True},
            "anything": {"type": "any", "optional": True},
        }
    }
}


def test_fields_fit_their_types() -> None:
    fields = {f.name: f for f in form_fields(DEFINITION)}
    assert {n: f.kind for n, f in fields.items()} == {
        "count": "int",
        "ratio": "float",
        "loud": "bool",
        "tone": "enum",
        "tags": "json",
        "when": "str",
        "anything": "json",
    }
    assert fields["count"].required and fields["count"].description == "how many"
    assert not fields["ratio"].required and fields["ratio"].value == "0.5"
    assert fields["loud"].value == "false"
    assert fields["tone"].choices == ("warm", "dry") and fields["tone"].value == "dry"
    assert fields["tags"].value == '[\n  "a"\n]'
    assert not fields["when"].required and fields["when"].value == ""
    assert form_fields({}) == []


def test_reading_the_form() -> None:
    fields = form_fields(DEFINITION)
    inputs, problems = read_form(
        fields,
        {
            "input.count": " 3 ",
            "input.ratio": "",
            "input.loud": "true",
            "input.tone": "warm",
            "input.tags": '["x", "y"]',
            "input.when": "2026-01-01T00:00:00Z",
        },
    )
    assert problems == []
    assert inputs == {
        "count": 3,
        "loud": True,
        "tone": "warm",
        "tags": ["x", "y"],
        "when": "2026-01-01T00:00:00Z",
    }
    _, problems = read_form(
        fields, {"input.count": "three", "input.ratio": "1/2", "input.tags": "[x"}
    )
    assert problems[0] == "count: expected a whole number, got 'three'"
    assert problems[1] == "ratio: expected a number, got '1/2'"
    assert problems[2].startswith("tags: not valid JSON")
    _, problems = read_form(fields, {"input.anything": "1" * 1_000_001})
    assert problems == ["anything: longer than 1000000 characters"]
