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
    "scatter_nested_partition": (
        """
title: scatter
description: nested scatter, activity per item, a failed item partitioned, a skipped item
actions:
  - ref: rows
    action: core.transform.scatter
    args: {collection: [[1, 2], [0, 5], [3]]}
  - ref: cells
    action: core.transform.scatter
    depends_on: [rows]
    args: {collection: "${{ ACTIONS.rows.result }}"}
  - ref: divide
    action: core.transform.apply
    depends_on: [cells]
    run_if: "${{ ACTIONS.cells.result != 5 }}"
    args: {value: "${{ ACTIONS.cells.result }}", python_lambda: "lambda x: 10 // x"}
  - ref: row
    action: core.transform.gather
    depends_on: [divide]
    args: {items: "${{ ACTIONS.divide.result }}", error_strategy: raise}
  - ref: table
    action: core.transform.gather
    depends_on: [row]
    args: {items: "${{ ACTIONS.row.result }}"}
returns: {table: "${{ ACTIONS.table.result }}", errors: "${{ ACTIONS.table.error }}"}
""",
        None,
    ),
    "do_while_passes": (
        """
title: loop
description: a do-while of three passes, an activity per pass, carrying the last pass's result
actions:
  - ref: again
    action: core.loop.start
  - ref: step
    action: core.transform.apply
    depends_on: [again]
    args: {value: "${{ ACTIONS.again.result.iteration }}", python_lambda: "lambda x: x * 10"}
  - ref: until
    action: core.loop.end
    depends_on: [step]
    args: {condition: "${{ ACTIONS.step.result < 20 }}", max_iterations: 5}
returns: "${{ ACTIONS.until.result }}"
""",
        None,
    ),
    "scatter_relayed": (
        """
title: relayed scatter
description: a scatter of 300 items walks its streams in two relay runs
actions:
  - ref: many
    action: core.transform.scatter
    args: {collection: "${{ FN.range(0, 300) }}"}
  - ref: double
    action: core.transform.apply
    depends_on: [many]
    args: {value: "${{ ACTIONS.many.result }}", python_lambda: "lambda x: x * 2"}
  - ref: collect
    action: core.transform.gather
    depends_on: [double]
    args: {items: "${{ ACTIONS.double.result }}"}
returns: "${{ FN.sum(ACTIONS.collect.result) }}"
""",
        None,
    ),
}
