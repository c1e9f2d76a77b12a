"""The Keel worker: polls a task queue and runs Keel workflows and their activities.

The workflow runs in Temporal's sandbox. Only deterministic, side-effect-free modules are passed
through: the pure core (``keel.dsl``, ``keel.expressions``, ``keel.errors``), the libraries it is
built on, and the workflow's own pure helpers (payloads, scheduler, context, failures, the action
runner and the child launcher; an import-linter contract keeps them free of I/O imports). Passing
them through is what makes a run cheap: the sandbox would otherwise re-import (and, without a
bytecode cache, recompile) them and rebuild the expression grammar for every run, measured at
about 28 ms per run. The workflow class's own module (``keel.orchestration.workflow``) is passed
through as well: Temporal re-imports a sandboxed workflow module for every new run (to isolate
module state, of which it has none: its state lives on the ``KeelRun`` instance), which cost about
11 ms of worker CPU per run (5 ms of it compiling the source when there is no bytecode cache, as
under ``PYTHONDONTWRITEBYTECODE``), half the worker's time in a 1,000-child fan-out. It is under
the same import-linter contract as the other pure pieces, and a worker now runs the workflow code
it started with even if the files change on disk. The rest of Keel, whose I/O code the contract
keeps away, is never passed through.
"""

from __future__ import annotations

import warnings

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from keel.actions.registry import Registry
from keel.actions.seen_keys import SeenKeys
from keel.execution.base import Executor
from keel.orchestration import payload_passes
from keel.orchestration.activities import ActionActivities, VariablesActivities, resolve_instant
from keel.orchestration.catalog import CatalogActivities, WorkflowCatalog
from keel.orchestration.placement import orchestration_queue
from keel.orchestration.sandbox import CompiledSandboxRunner
from keel.orchestration.secrets import SecretsProvider
from keel.orchestration.variables import VariablesProvider
from keel.orchestration.workflow import KeelRun

# The SDK warns when Temporal cancels an activity that has just finished (a failing for_each item
# cancels its siblings while some complete): a benign race, and under ``-W error`` the warning
# would escape the activity poll loop and stop the whole worker.
warnings.filterwarnings(
    "ignore", message="Cannot find activity to cancel", module="temporalio.worker._activity"
)

#: Deterministic modules shared with the sandbox instead of re-imported per run.
PASSTHROUGH_MODULES = (
    "keel.orchestration.workflow",
    "keel.orchestration.payloads",
    "keel.orchestration.payload_types",
    "keel.orchestration.scheduler",
    "keel.orchestration.context",
    "keel.orchestration.failures",
    "keel.orchestration.action_runner",
    "keel.orchestration.children",
    "keel.orchestration.regions",
    "keel.orchestration.streams",
    "keel.orchestration.stream_relays",
    "keel.orchestration.placement",
    "keel.dsl",
    "keel.expressions",
    "keel.errors",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "lark",
    "jsonpath_ng",
    "ply",
    "yaml",
    "dateutil",
    "regex",  # FN.regex_* (searches with a timeout); it imports parts of itself lazily
)


#: Wall-clock seconds a workflow activation may run before it counts as deadlocked: under the
#: 10 s a workflow task may take on the server, over the SDK's 2 s (see
#: :func:`with_deadlock_allowance`).
DEADLOCK_SECONDS = 8.0


def sandbox_runner() -> SandboxedWorkflowRunner:
    """Return the workflow runner with Keel's pure core passed through the sandbox.

    It is Temporal's sandbox, with its glue code compiled once (:mod:`keel.orchestration.sandbox`).
    Every worker Keel builds gets one, so this is also where the SDK's idle payload passes
    around each workflow task are skipped (:mod:`keel.orchestration.payload_passes`).
    """
    payload_passes.install()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return CompiledSandboxRunner(restrictions=restrictions)


def build_worker(
    client: Client,
    task_queue: str,
    executor: Executor,
    secrets: SecretsProvider | None = None,
    *,
    catalog: WorkflowCatalog | None = None,
    seen: SeenKeys | None = None,
    variables: VariablesProvider | None = None,
    max_concurrent_activities: int = 100,
    registry: Registry | None = None,
) -> Worker:
    """Create a worker for Keel runs on ``task_queue`` (start it with ``async with``/``run()``).

    Args:
        client: The Temporal client.
        task_queue: The queue to poll.
        executor: Where action code runs.
        secrets: Where ``SECRETS`` come from.
        catalog: Where child runs find the workflows they call.
        seen: What ``core.transform.deduplicate`` remembers across runs (Keel's store); without
            it, a call that needs it fails saying so (``persist: false`` still works).
        variables: Where scheduled runs load their ``VARS`` (Keel's store); none without it.
        max_concurrent_activities: Cap on activities (and local activities) at once.
        registry: Where the secrets actions declare are looked up; the default registry (the
            one the default executors use) when None.
    """
    activities = ActionActivities(executor, secrets, seen, registry)
    catalog_activities = CatalogActivities(catalog)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[KeelRun],
        activities=[
            activities.run_action,
            catalog_activities.resolve_workflow,
            VariablesActivities(variables).load_variables,
            resolve_instant,
        ],
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_local_activities=max_concurrent_activities,
    )
    return with_deadlock_allowance(worker)


def build_orchestrator(client: Client, task_queue: str) -> Worker:
    """Create a workflow-only worker on the orchestration queue of ``task_queue``.

    It runs the workflow tasks of runs started for it (eagerly, by an API process) and no
    activity at all: those runs send their actions to ``task_queue``
    (:mod:`keel.orchestration.placement`). API processes run one to orchestrate the runs they
    start; worker processes run one too, so that those runs go on when an API process is gone.
    """
    worker = Worker(
        client,
        task_queue=orchestration_queue(task_queue),
        workflows=[KeelRun],
        activities=[],
        workflow_runner=sandbox_runner(),
    )
    return with_deadlock_allowance(worker)


def with_deadlock_allowance(worker: Worker) -> Worker:
    """Give ``worker``'s workflow activations :data:`DEADLOCK_SECONDS` before a deadlock.

    The SDK fails an activation that has not yielded within 2 s of *wall-clock* time and
    retries it forever, however the time was spent. Keel's workflow code never blocks (its I/O
    is in activities; user expressions are bounded by work units, calibrated to well under 2 s),
    but on a slow or loaded machine the same deterministic work (10,000 pure ``for_each`` items
    in one task) can take longer than 2 s of wall time, and the run then hangs instead of
    finishing. The SDK offers only ``debug_mode`` (no detection at all); this sets its private
    timeout, checked against the pinned release by tests/integration/test_deadlock_allowance.py.
    """
    workflows = getattr(worker, "_workflow_worker", None)
    if workflows is not None:
        workflows._deadlock_timeout_seconds = DEADLOCK_SECONDS
    return worker
