"""Representative workflows whose histories are recorded and replayed in CI.

Replaying a stored history against today's workflow code fails if the code would now make
different decisions (non-determinism): that is how a change that would break runs already in
flight is caught before it ships. Re-record with ``.venv/bin/python -m tests.replay.record``
only when a change is *meant* to alter histories (and say so in the commit).
"""

from __future__ import annotations

from typing import Any

SCENARIOS: dict[str, tuple[str, Any]] = {
    "chain_for_each_returns": (
        """
title: chain
description: reshape chain, activity for_each, returns
actions:
  - ref: items
    action: core.transform.reshape
    args: {value: [3, 1, 2]}
  - ref: squares
    action: core.transform.apply
    depends_on: [items]
    for_each: ${{ for var.n in ACTIONS.items.result }}
    args: {value: "${{ var.n }}", python_lambda: "lambda x: x * x"}
  - ref: total
    action: core.transform.reshape
    depends_on: [squares]
    args: {value: "${{ FN.sum(ACTIONS.squares.result) }}"}
returns: {total: "${{ ACTIONS.total.result }}", at: "${{ FN.utcnow() }}"}
""",
        None,
    ),
    "branches_skip_join_any": (
        """
title: branches
description: concurrent branches, run_if skip, join any
actions:
  - ref: a
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.n }}"}
  - ref: big
    action: core.transform.apply
    depends_on: [a]
    run_if: ${{ ACTIONS.a.result > 10 }}
    args: {value: "${{ ACTIONS.a.result }}", python_lambda: "lambda x: 'big'"}
  - ref: small
    action: core.transform.apply
    depends_on: [a]
    run_if: ${{ ACTIONS.a.result <= 10 }}
    args: {value: "${{ ACTIONS.a.result }}", python_lambda: "lambda x: 'small'"}
  - ref: verdict
    action: core.transform.reshape
    depends_on: [big, small]
    join_strategy: any
    args: {value: "${{ ACTIONS.small.result || ACTIONS.big.result }}"}
returns: ${{ ACTIONS.verdict.result }}
""",
        {"n": 4},
    ),
    "retry_error_path_timer": (
        """
title: errors
description: retries with backoff, an error path, a durable timer
actions:
  - ref: flaky
    action: core.transform.apply
    retry_policy: {max_attempts: 2, backoff: {initial: 0.2}}
    args: {value: {}, python_lambda: "lambda x: x['missing']"}
  - ref: handled
    action: core.transform.reshape
    depends_on: [flaky.error]
    start_delay: 0.5
    args: {value: "${{ ACTIONS.flaky.error.message }}"}
returns: ${{ ACTIONS.handled.result }}
""",
        None,
    ),
}
