"""Loading documents: examples, Tracecat forms, JSON, and every kind of problem with its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keel.dsl.diagnostics import Problem
from keel.dsl.loader import load_workflow, load_workflow_file, parse_workflow
from keel.errors import DefinitionError

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
EXAMPLES = sorted((SHARED / "examples").glob("*.yml"))

TRACECAT = """\
title: Quarantine a user
description: ''
config:
  scheduler: dynamic
  environment: default
  timeout: 300.0
entrypoint:
  ref: get_user
  expects:
    username: {type: str, description: The user, default: null}
inputs:
  api_url: https://api.example.com
triggers:
  - id: wh-0123456789abcdef
    type: webhook
    ref: quarantine_webhook
    entrypoint: get_user
    args: {}
actions:
  - id: act-0123456789abcdef
    ref: get_user
    title: Get user
    action: core.http_request
    description: ''
    args:
      url: ${{ INPUTS.api_url }}/users/${{ TRIGGER.username }}
      method: GET
    depends_on: []
    for_each: null
    run_if: null
    retry_policy: {max_attempts: 1, timeout: 300, retry_until: null}
    start_delay: 0.0
    wait_until: null
    join_strategy: all
    environment: null
    interaction: null
  - ref: disable_user
    action: core.http_request
    args: {url: "${{ INPUTS.api_url }}/disable", method: POST}
    depends_on: [get_user]
returns: null
error_handler: null
"""


def _load(text: str) -> tuple[object, list[Problem]]:
    result = load_workflow(text, file="w.yml")
    return result.workflow, result.problems


def _one(text: str) -> Problem:
    result = load_workflow(text, file="w.yml")
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shared_examples_load(path: Path) -> None:
    result = load_workflow_file(path)
    assert result.problems == []
    assert result.ok
    assert result.workflow is not None
    assert result.workflow.actions


def test_both_shared_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"phishing_triage.yml", "nightly_fanout.yml"}


def test_phishing_example_content() -> None:
    result = load_workflow_file(SHARED / "examples" / "phishing_triage.yml")
    wf = result.workflow
    assert wf is not None
    assert wf.entrypoint.ref == "extract_urls"
    assert set(wf.entrypoint.expects) == {"subject", "body", "intel_url"}
    lookup = wf.actions[1]
    assert lookup.retry_policy.max_attempts == 3
    assert lookup.retry_policy.timeout == 10
    lines = (SHARED / "examples" / "phishing_triage.yml").read_text().splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if "retry_policy" in line)
    assert result.source.line(("actions", 1, "retry_policy")) == expected


def test_tracecat_document_loads_unchanged() -> None:
    workflow, problems = _load(TRACECAT)
    assert problems == []
    assert workflow is not None
    wf = parse_workflow(TRACECAT)
    assert wf.triggers[0].ref == "quarantine_webhook"
    assert wf.actions[0].title == "Get user"
    assert wf.inputs == {"api_url": "https://api.example.com"}
    assert wf.entrypoint.expects["username"].has_default


def test_wrapped_definition_export_loads_inner_with_lines() -> None:
    inner = "\n".join("  " + line for line in TRACECAT.splitlines())
    text = f"definition:\n{inner}\nlayout:\n  viewport: {{x: 0}}\nschedules: []\nwebhook: {{}}\n"
    result = load_workflow(text)
    assert result.problems == []
    assert result.workflow is not None
    assert result.workflow.title == "Quarantine a user"
    # Paths are relative to the definition; lines are the file's.
    assert (
        result.source.line(("actions", 1, "ref"))
        == TRACECAT.splitlines().index("  - ref: disable_user") + 2
    )


def test_wrapped_definition_problems_point_into_it() -> None:
    text = "definition:\n  title: t\n  description: d\n  actions:\n    - ref: a\n      action: X\n"
    problem = _one(text)
    assert (problem.line, problem.ref, problem.field) == (6, "a", "action")


def test_json_document() -> None:
    doc = {"title": "t", "description": "", "actions": [{"ref": "a", "action": "core.x"}]}
    text = json.dumps(doc, indent=2)
    result = load_workflow(text)
    assert result.problems == []
    assert result.source.line(("actions", 0, "action")) == 7


def test_json_numbers_follow_json() -> None:
    # YAML 1.1 would read 1e3 as a string; JSON reads a number.
    text = (
        '{"title": "t", "description": "", "returns": 1e3, '
        '"actions": [{"ref": "a", "action": "x"}]}'
    )
    wf = parse_workflow(text)
    assert wf.returns == 1000.0


def test_json_syntax_error_uses_json_position() -> None:
    problem = _one('{\n  "title": "t",\n  "actions": [,]\n}')
    assert problem.line == 3
    assert problem.message.startswith("could not parse JSON: Expecting value (column 15)")
    assert problem.file == "w.yml"


def test_json_duplicate_keys() -> None:
    problem = _one(
        '{"title": "t",\n "title": "u", "description": "", '
        '"actions": [{"ref": "a", "action": "x"}]}'
    )
    assert problem.line == 2
    assert "duplicate key 'title' (first given at line 1)" in problem.message


def test_yaml_syntax_error_line_and_column() -> None:
    problem = _one("title: t\ndescription: d\nactions:\n  - ref: a\n    action: b: c\n")
    assert problem.line == 5
    assert (
        problem.message == "could not parse YAML: mapping values are not allowed here (column 14)"
    )


def test_yaml_unclosed_flow() -> None:
    problem = _one("title: t\nactions: [\n")
    assert problem.message.startswith("could not parse YAML:")
    assert problem.line == 3


def test_several_yaml_documents() -> None:
    problem = _one("title: a\n---\ntitle: b\n")
    assert problem.message == (
        "could not parse YAML: expected a single document in the stream, "
        "but found another document (column 1)"
    )
    assert problem.line == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the document is empty"),
        ("# only a comment\n", "the document is empty"),
        ("- a\n- b\n", "got list"),
        ("just text\n", "got str 'just text'"),
    ],
)
def test_non_mapping_documents(text: str, message: str) -> None:
    problem = _one(text)
    assert "a workflow document must be a mapping" in problem.message
    assert message in problem.message


def test_empty_actions() -> None:
    problem = _one("title: t\ndescription: d\nactions: []\n")
    assert problem.message == "a workflow needs at least one action"
    assert (problem.line, problem.field) == (3, "actions")


def test_missing_required_document_fields() -> None:
    result = load_workflow("config: {}\n")
    got = {(p.field, p.message.split(" (")[0]) for p in result.problems}
    assert got == {
        ("title", "required field missing"),
        ("description", "required field missing"),
        ("actions", "required field missing"),
    }
    assert any('description: ""' in p.message for p in result.problems)


BAD = """\
title: t
description: d
entrypoint:
  expects:
    a: {type: int, defualt: 3}
triggers:
  - {type: cron, ref: nightly}
config: {timeout: -1}
actions:
  - ref: Fetch
    action: core.x
    dependson: [b]
    retry_policy: {max_attempts: -1, timeout: 0, backof: {}}
    join_strategy: some
    for_each: 3
    start_delay: soon
  - ref: b
  - 5
  - ref: c
    action: core.http_request
    args: {200: ok}
    retry_policy:
      backoff: {coefficient: 0.5}
    mask_output: maybe
"""


def test_every_schema_error_is_reported_with_line_ref_and_field() -> None:
    workflow, problems = _load(BAD)
    assert workflow is None
    got = {(p.line, p.ref, p.field, p.message) for p in problems}
    expected = {
        (
            5,
            None,
            "entrypoint.expects.a.defualt",
            "unknown field 'defualt'; did you mean 'default'?",
        ),
        (7, None, "triggers[0].type", "must be 'webhook' or 'schedule', got str 'cron'"),
        (8, None, "config.timeout", "must be >= 0, got -1"),
        (
            10,
            "Fetch",
            "ref",
            "must match ^[a-z0-9_]+$ (lowercase letters, digits and underscores), got 'Fetch'",
        ),
        (12, "Fetch", "dependson", "unknown field 'dependson'; did you mean 'depends_on'?"),
        (13, "Fetch", "retry_policy.max_attempts", "must be >= 0, got -1"),
        (13, "Fetch", "retry_policy.timeout", "must be > 0, got 0"),
        (13, "Fetch", "retry_policy.backof", "unknown field 'backof'; did you mean 'backoff'?"),
        (14, "Fetch", "join_strategy", "must be 'all' or 'any', got str 'some'"),
        (
            15,
            "Fetch",
            "for_each",
            "must be an iterator expression such as '${{ for var.x in ... }}', or a list of them",
        ),
        (16, "Fetch", "start_delay", "expected a number, got str 'soon'"),
        (17, "b", "action", "required field missing"),
        (18, None, None, "each action must be a mapping with ref and action, got int 5"),
        (21, "c", "args.200", "keys must be strings, got int 200"),
        (23, "c", "retry_policy.backoff.coefficient", "must be >= 1, got 0.5"),
        (24, "c", "mask_output", "expected true or false, got str 'maybe'"),
    }
    assert got == expected
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)
    assert all(p.file == "w.yml" and p.severity == "error" for p in problems)


def test_problem_str_names_file_line_ref_and_field() -> None:
    problem = _one(
        "title: t\ndescription: d\nactions:\n  - ref: a\n    action: x\n    dependson: []\n"
    )
    assert str(problem) == (
        "w.yml:6: action 'a', field 'dependson': unknown field 'dependson'; "
        "did you mean 'depends_on'?"
    )


def test_unknown_field_without_close_match_lists_allowed() -> None:
    text = (
        "title: t\ndescription: d\nactions:\n  - ref: a\n    action: x\n"
        "    retry_policy: {zzz: 1}\n"
    )
    assert _one(text).message == (
        "unknown field 'zzz' (allowed: backoff, max_attempts, retry_until, timeout)"
    )


def test_empty_for_each_list() -> None:
    text = "title: t\ndescription: d\nactions:\n  - ref: a\n    action: x\n    for_each: []\n"
    assert _one(text).message == "must list at least one iterator"


def test_duplicate_key_in_action_is_reported_and_last_wins() -> None:
    text = "title: t\ndescription: d\nactions:\n  - ref: a\n    action: x\n    action: y\n"
    result = load_workflow(text, file="w.yml")
    assert [(p.line, p.ref, p.field) for p in result.problems] == [(6, "a", "action")]
    assert (
        result.problems[0].message == "duplicate key 'action' (first given at line 5); remove one"
    )
    assert result.workflow is not None
    assert result.workflow.actions[0].action == "y"
    assert not result.ok


def test_timestamps_stay_strings() -> None:
    text = (
        "title: t\ndescription: d\nactions:\n  - ref: a\n    action: x\n"
        "    wait_until: 2026-12-01T09:00:00Z\n    args: {day: 2026-12-01}\n"
    )
    wf = parse_workflow(text)
    assert wf.actions[0].wait_until == "2026-12-01T09:00:00Z"
    assert wf.actions[0].args == {"day": "2026-12-01"}


def test_parse_workflow_raises_with_every_problem() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_workflow("title: t\nactions:\n  - ref: A\n    action: x\n", file="f.yml")
    assert len(info.value.problems) == 2
    assert "f.yml:3: action 'A', field 'ref'" in str(info.value)


def test_parse_workflow_from_dict() -> None:
    doc = {"title": "t", "description": "", "actions": [{"ref": "a", "action": "x", "bad": 1}]}
    with pytest.raises(DefinitionError) as info:
        parse_workflow(doc)
    (problem,) = info.value.problems
    assert (problem.ref, problem.field, problem.line) == ("a", "bad", None)
    doc["actions"] = [{"ref": "a", "action": "x"}]
    assert parse_workflow({"definition": doc}).title == "t"


def test_load_workflow_file_errors(tmp_path: Path) -> None:
    missing = load_workflow_file(tmp_path / "nope.yml")
    assert missing.workflow is None
    assert missing.problems[0].message.startswith("cannot read file:")
    bad = tmp_path / "bad.yml"
    bad.write_text("title: [\n")
    result = load_workflow_file(bad)
    assert result.problems[0].file == str(bad)


def test_a_ref_longer_than_the_bound_is_refused_with_its_length() -> None:
    long_ref = "a" * 129
    workflow, problems = _load(
        f"""title: t
description: d
actions:
  - ref: {long_ref}
    action: core.transform.reshape
    args: {{value: 1}}
"""
    )
    assert workflow is None
    assert [(p.line, p.field, p.message) for p in problems] == [
        (4, "ref", "must be at most 128 characters long, got 129")
    ]
    at_bound, problems = _load(
        """title: t
description: d
actions:
  - ref: REF
    action: core.transform.reshape
    args: {value: 1}
""".replace("REF", "a" * 128)
    )
    assert at_bound is not None and problems == []
