"""What the API's routes share: the store, the Temporal client, the registry and the commit hooks.

One :class:`ServiceState` per app, built by whoever serves it (``keel up``, a test) and handed to
:func:`keel.api.app.create_app`; the app does not own these resources and never closes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from keel.actions.registry import Registry, default_registry
from keel.api.admission import Admission
from keel.api.outbox import OutboxRelay, new_lease
from keel.api.run_records import RunRecorder
from keel.api.run_variables import VariablesCache
from keel.api.webhook_targets import TargetCache
from keel.config import get_settings
from keel.dsl.diagnostics import Problem
from keel.dsl.model import Workflow
from keel.orchestration.placement import orchestration_queue
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.triggers.bounds import InputBounds


@dataclass(frozen=True)
class Committed:
    """A version that is being committed, as the commit hooks see it.

    The hooks run inside the commit's transaction: a hook that raises (a
    :class:`~keel.errors.TriggerError`, say) refuses the commit and nothing is stored.

    Attributes:
        state: The service.
        session: The commit's open session (write through it to stay in the transaction).
        workflow_id: The workflow's id.
        alias: The workflow's alias, if it has one.
        version: The new version number.
        workflow: The validated definition.
        warnings: Problems a hook found that do not block the commit (unknown trigger args);
            a hook appends to it and the commit's response lists them.
    """

    state: ServiceState
    session: AsyncSession
    workflow_id: str
    alias: str | None
    version: int
    workflow: Workflow
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Deleted:
    """A workflow that is being deleted, as the delete hooks see it (inside its transaction)."""

    state: ServiceState
    session: AsyncSession
    workflow_id: str


@dataclass(frozen=True)
class RunPlacement:
    """Where a run starts and where its actions execute.

    Attributes:
        task_queue: The workflow task queue the run starts on.
        eager: Start it eagerly (its first workflow task runs in this process).
        actions_queue: ``RunRequest.actions_queue``: None runs actions beside the workflow task.
    """

    task_queue: str
    eager: bool
    actions_queue: str | None = None


#: Called for every commit, after validation, before the transaction ends (triggers apply here).
CommitHook = Callable[[Committed], Awaitable[None]]

#: Called for every workflow deletion, before the transaction ends (schedules are removed here).
DeleteHook = Callable[[Deleted], Awaitable[None]]


@dataclass
class ServiceState:
    """The resources behind the API.

    Attributes:
        database: Keel's store.
        cipher: The key secrets are encrypted with at rest.
        temporal: The Temporal client runs are started with.
        task_queue: The task queue Keel's workers poll.
        registry: The action registry (validation and ``/actions``).
        eager: Start runs eagerly (only when this process runs a worker on ``task_queue``).
        orchestration: The state of this process's workflow-only worker on the orchestration
            queue (``keel api``, :mod:`keel.processes.orchestrator`): ``running`` or
            ``restarting`` (``GET /health`` reports it); ``None`` in a process without one.
            While it runs, runs whose caller waits for the result start there, eagerly
            (:attr:`orchestrates`).
        on_commit: Hooks run for each commit (webhook and schedule triggers register here).
        on_delete: Hooks run for each workflow deletion.
        bounds: The limits every input is checked against (``KEEL_MAX_JSON_DEPTH``...); from
            the process settings unless given.
        variables: The runs' ``VARS`` by environment, read from the store at most once per
            ``KEEL_VARIABLES_CACHE_SECONDS`` (cleared by every variable write through this API).
        outbox_max: The most accepted runs waiting to start (``KEEL_OUTBOX_MAX``); a delivery
            beyond it is refused with a 503.
        outbox_lease: Seconds an accepted run stays claimed by this process before any API
            process may take it over (``KEEL_OUTBOX_LEASE_SECONDS``).
        targets: Live webhook targets found moments ago, by workflow id, for at most
            ``KEEL_WEBHOOK_CACHE_SECONDS`` (cleared by every commit, deletion and secret rotation
            through this API).
        recorder: Writes the run-summary rows of concurrent starts together (group commit), and
            accepted runs with their outbox entries.
        relay: Starts the runs this process accepted, and sweeps up those of processes that
            died (:mod:`keel.api.outbox`); its sweep runs between ``relay.start()`` and
            ``relay.close()``.
        admission: How many waited-for runs this process orchestrates at once
            (``KEEL_API_INLINE_RUNS``; :mod:`keel.api.admission`).
    """

    database: Database
    cipher: SecretCipher
    temporal: Client
    task_queue: str
    registry: Registry = field(default_factory=default_registry)
    eager: bool = False
    orchestration: str | None = None
    on_commit: list[CommitHook] = field(default_factory=list)
    on_delete: list[DeleteHook] = field(default_factory=list)
    bounds: InputBounds = field(default_factory=lambda: InputBounds.from_settings(get_settings()))
    variables: VariablesCache = field(
        default_factory=lambda: VariablesCache(get_settings().variables_cache_seconds)
    )
    outbox_max: int = field(default_factory=lambda: get_settings().outbox_max)
    outbox_lease: float = field(default_factory=lambda: get_settings().outbox_lease_seconds)
    targets: TargetCache[Any] = field(
        default_factory=lambda: TargetCache(get_settings().webhook_cache_seconds)
    )
    admission: Admission = field(
        default_factory=lambda: Admission(
            get_settings().api_inline_runs, get_settings().api_inline_hold_seconds
        )
    )
    recorder: RunRecorder = field(init=False)
    relay: OutboxRelay = field(init=False)

    def __post_init__(self) -> None:
        self.relay = OutboxRelay(self, new_lease(self.outbox_lease))
        self.recorder = RunRecorder(
            self.database,
            lease=self.relay.lease,
            outbox_max=self.outbox_max,
            on_accepted=self.relay.push,
        )

    def orchestrates_here(self, *, inline: bool) -> bool:
        """Whether a waited-for run is orchestrated by this process, whole.

        The one rule for both :meth:`placement` (such a run starts eagerly here) and the webhook
        route (such a run takes a place in :attr:`admission`); a run with actions goes to the
        workers.
        """
        return inline and self.orchestrates

    @property
    def orchestrates(self) -> bool:
        """Whether this process's orchestrating worker runs (so runs may start here, eagerly)."""
        return self.orchestration == "running"

    def placement(self, *, wait: bool, inline: bool = False) -> RunPlacement:
        """Return where a run starts.

        Args:
            wait: Its caller waits for its result.
            inline: It needs no activity (pure transforms, regions, timers).

        A waited-for run that needs no activity starts eagerly here when this process
        orchestrates: the whole run is one workflow task in this process, without a round of
        matching. Should it call an activity after all (a lookup), that goes to the workers'
        queue: an API process executes nothing. Every other run goes to the workers whole, where
        its actions run beside its workflow tasks and added workers add capacity, and this
        process stays free to answer; measured in bench/RESULTS.md ("Where a run executes").
        """
        if wait and self.orchestrates_here(inline=inline):
            return RunPlacement(orchestration_queue(self.task_queue), True, self.task_queue)
        return RunPlacement(self.task_queue, self.eager)
