"""The DAG of a workflow as nodes and edges to draw."""

from __future__ import annotations

from keel.dsl.diagram import diagram
from keel.dsl.model import Workflow


def test_nodes_and_edges_with_kinds_and_conditions() -> None:
    workflow = Workflow.model_validate(
        {
            "title": "t",
            "description": "",
            "actions": [
                {"ref": "a", "action": "core.transform.reshape", "args": {"value": 1}},
                {
                    "ref": "b",
                    "action": "core.http_request",
                    "depends_on": ["a"],
                    "for_each": ["${{ for var.x in [1] }}", "${{ for var.y in [2] }}"],
                    "args": {},
                },
                {
                    "ref": "c",
                    "action": "core.transform.reshape",
                    "depends_on": ["a.error", "b.success"],
                    "run_if": "${{ True }}",
                    "join_strategy": "any",
                    "args": {"value": 2},
                },
            ],
        }
    )
    drawn = diagram(workflow).as_json()
    assert [(n["ref"], n["action"], n["root"]) for n in drawn["nodes"]] == [
        ("a", "core.transform.reshape", True),
        ("b", "core.http_request", False),
        ("c", "core.transform.reshape", False),
    ]
    assert drawn["nodes"][1]["for_each"] == "${{ for var.x in [1] }}; ${{ for var.y in [2] }}"
    assert drawn["nodes"][2]["join_strategy"] == "any"
    assert [(e["source"], e["target"], e["kind"], e["label"]) for e in drawn["edges"]] == [
        ("a", "b", "success", "success"),
        ("a", "c", "error", "error + run_if"),
        ("b", "c", "success", "success + run_if"),
    ]
    assert drawn["edges"][1]["condition"] == "${{ True }}"
