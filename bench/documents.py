"""The Keel workflow documents the scenarios run (YAML text, generated for any size)."""

from __future__ import annotations

from typing import Any

_HEAD = "title: {title}\ndescription: benchmark workflow\nactions:\n"


def reshape_chain(steps: int) -> str:
    """``steps`` chained ``core.transform.reshape`` actions, each adding 1; returns ``steps``."""
    lines = [_HEAD.format(title=f"reshape chain of {steps}")]
    lines.append("  - ref: s1\n    action: core.transform.reshape\n    args: {value: 1}\n")
    for i in range(2, steps + 1):
        lines.append(
            f"  - ref: s{i}\n    action: core.transform.reshape\n    depends_on: [s{i - 1}]\n"
            f'    args: {{value: "${{{{ ACTIONS.s{i - 1}.result + 1 }}}}"}}\n'
        )
    lines.append(f"returns: ${{{{ ACTIONS.s{steps}.result }}}}\n")
    return "".join(lines)


def http_chain(steps: int, url: str) -> str:
    """``steps`` chained ``core.http_request`` POSTs; each sends the previous echo's ``n + 1``."""
    lines = [_HEAD.format(title=f"http chain of {steps}")]
    lines.append(
        "  - ref: s1\n    action: core.http_request\n"
        f"    args: {{url: '{url}', method: POST, payload: {{n: 1}}}}\n"
    )
    for i in range(2, steps + 1):
        lines.append(
            f"  - ref: s{i}\n    action: core.http_request\n    depends_on: [s{i - 1}]\n"
            f"    args: {{url: '{url}', method: POST, "
            f'payload: {{n: "${{{{ ACTIONS.s{i - 1}.result.data.echo.n + 1 }}}}"}}}}\n'
        )
    lines.append(f"returns: ${{{{ ACTIONS.s{steps}.result.data.echo.n }}}}\n")
    return "".join(lines)


def for_each(action: str) -> str:
    """A ``for_each`` over ``TRIGGER.items`` adding 1 to each item, by ``apply`` or ``reshape``."""
    if action == "apply":
        args = '{value: "${{ var.x }}", python_lambda: "lambda x: x + 1"}'
    else:
        args = '{value: "${{ var.x + 1 }}"}'
    return (
        _HEAD.format(title=f"for_each of {action}")
        + "  - ref: items\n    action: core.transform.reshape\n"
        + '    args: {value: "${{ TRIGGER.items }}"}\n'
        + f"  - ref: each\n    action: core.transform.{action}\n    depends_on: [items]\n"
        + "    for_each: ${{ for var.x in ACTIONS.items.result }}\n"
        + f"    args: {args}\n"
        + "returns: ${{ ACTIONS.each.result }}\n"
    )


def apply_chain() -> str:
    """Three chained ``core.transform.apply`` actions (each an activity), adding 1 each."""
    text = _HEAD.format(title="three applies")
    previous = "TRIGGER.n"
    for i, ref in enumerate(("a", "b", "c")):
        depends = f"    depends_on: [{'ab'[i - 1]}]\n" if i else ""
        text += (
            f"  - ref: {ref}\n    action: core.transform.apply\n{depends}"
            f'    args: {{value: "${{{{ {previous} }}}}", python_lambda: "lambda x: x + 1"}}\n'
        )
        previous = f"ACTIONS.{ref}.result"
    return text + "returns: ${{ ACTIONS.c.result }}\n"


THREE_TRANSFORMS = """\
title: three transforms
description: the same work as bench.raw_workflows.ThreeTransforms
actions:
  - ref: t1
    action: core.transform.reshape
    args:
      value:
        n: ${{ TRIGGER.n + 1 }}
        name: ${{ FN.uppercase(TRIGGER.name) }}
  - ref: t2
    action: core.transform.reshape
    depends_on: [t1]
    args:
      value:
        n: ${{ ACTIONS.t1.result.n * 2 }}
        name: ${{ ACTIONS.t1.result.name }}
        size: ${{ FN.length(ACTIONS.t1.result.name) }}
  - ref: t3
    action: core.transform.reshape
    depends_on: [t2]
    args:
      value:
        n: ${{ ACTIONS.t2.result.n }}
        summary: "${{ ACTIONS.t2.result.name }} has ${{ ACTIONS.t2.result.size }} letters"
returns: ${{ ACTIONS.t3.result }}
"""


def transform_trigger() -> dict[str, Any]:
    """The trigger of :data:`THREE_TRANSFORMS` (the raw twin gets the same values)."""
    return {"n": 20, "name": "keel"}


def with_webhook(text: str) -> str:
    """Return workflow ``text`` with a webhook trigger (ref ``hook``) added."""
    return text.replace("actions:\n", "triggers:\n  - {type: webhook, ref: hook}\nactions:\n", 1)


#: :data:`THREE_TRANSFORMS` with a webhook trigger: the webhook scenarios' workflow.
WEBHOOK_TRANSFORMS = with_webhook(THREE_TRANSFORMS)
