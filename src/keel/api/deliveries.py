"""Webhook deliveries on the service side: find the webhook, accept or start its runs, wait.

The route (:mod:`keel.api.routes.webhooks`) only adapts HTTP; the checks themselves are
:func:`keel.triggers.webhook.receive`. This module supplies what ``receive`` needs from the store
(the secret, the settings, the committed version's ``expects``, the signing secrets resolved from
``${{ SECRETS.name.key }}``), then:

- the plain form (202) *accepts* one run per payload (:func:`accept_runs`): each run's summary
  row (``queued``) and outbox entry are committed together, and the relay starts the runs in
  Temporal right after the answer (:mod:`keel.api.outbox`), so the answer never waits on
  Temporal;
- the ``/wait`` form starts them through the API's launcher (:func:`start_runs`), as
  ``POST /workflows/{id}/runs`` does: its caller waits for Temporal anyway.

Either way a webhook run is checked and recorded like any other (trigger type ``webhook``).

Idempotency: a keyed delivery's run id is derived from its key
(:func:`keel.triggers.webhook.run_id_for`). Its summary row is written only if not there yet
(an accepted run goes to the outbox only then), and every start refuses an id Temporal has seen,
so across API restarts and between API processes a redelivery answers with the first run's id
and starts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError, TerminatedError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from keel import expressions
from keel.api.errors import ApiError
from keel.api.launcher import Runnable, RunOrder, runnable
from keel.api.launcher import start_runs as launch_runs
from keel.api.run_records import RunStart
from keel.api.state import ServiceState
from keel.dsl.model import Workflow
from keel.errors import ExpressionError, TriggerError, WebhookError
from keel.orchestration.client import RunFailedError, StartedRun, wait_result
from keel.store import workflows
from keel.store.outbox import Accepted, OutboxFullError
from keel.store.secrets import find_secret
from keel.store.tables import WebhookRow, WorkflowVersionRow
from keel.triggers.webhook import WebhookRun, WebhookSettings, check_secret, load_webhook_settings

log = logging.getLogger(__name__)

#: The webhook, its secret and settings, and the workflow's latest version, in one query.
_TARGET = select(
    WebhookRow.workflow_id,
    WebhookRow.secret_hash,
    WebhookRow.settings,
    WebhookRow.enabled,
    WebhookRow.updated_at,
    select(func.max(WorkflowVersionRow.version))
    .where(WorkflowVersionRow.workflow_id == WebhookRow.workflow_id)
    .scalar_subquery(),
).where(WebhookRow.workflow_id == bindparam("workflow_id"))

#: Parsed definitions and settings by (workflow id, version, webhook ``updated_at``).
_PARSED: OrderedDict[tuple[str, int, datetime], tuple[Runnable, WebhookSettings]] = OrderedDict()
_CACHE_SIZE = 256

#: The answer to any address that is not a live webhook (unknown workflow, wrong secret, no
#: committed version): one message, so the three cannot be told apart.
NOT_FOUND = "no webhook at this address"


@dataclass(frozen=True)
class WebhookTarget:
    """What a webhook URL leads to.

    Attributes:
        workflow_id: The workflow's id.
        version: The committed version its runs use (the latest).
        runnable: That version's definition, parsed and in JSON form.
        secret: The digest of the webhook's URL secret (never the secret itself).
        settings: The webhook's settings (from the workflow's ``webhook`` trigger).
        signing_secrets: The HMAC secrets, resolved (empty without ``signature``).
    """

    workflow_id: str
    version: int
    runnable: Runnable
    secret: str
    settings: WebhookSettings
    signing_secrets: tuple[str, ...]

    @property
    def workflow(self) -> Workflow:
        """Return the definition its runs use."""
        return self.runnable.workflow


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, for the ``/wait`` form.

    Attributes:
        execution_id: The run's id.
        status: ``succeeded``, ``failed``, ``cancelled``, ``terminated`` or ``timed_out``.
        result: The run's result when it succeeded.
        error: The failure message otherwise.
    """

    execution_id: str
    status: str
    result: Any = None
    error: str | None = None


async def find_target(state: ServiceState, ref: str, secret: str) -> WebhookTarget:
    """Return what the webhook URL ``/webhooks/{ref}/{secret}`` leads to.

    One query reads the webhook and the workflow's latest version number; the secret is
    checked (in constant time) before anything else, so a wrong URL never costs a decryption.
    The parsed definition and settings are cached per (workflow, version, webhook change):
    versions are immutable and a settings change moves ``updated_at``. A live unsigned target
    found by id is reused for ``KEEL_WEBHOOK_CACHE_SECONDS`` (:mod:`keel.api.webhook_targets`);
    the URL secret is checked every time.

    Raises:
        WebhookError: 404 when there is no live webhook at this address.
    """
    kept: WebhookTarget | None = state.targets.get(ref)
    if kept is not None:  # a live, unsigned webhook found by id moments ago (see webhook_targets)
        if not check_secret(secret, kept.secret):
            raise WebhookError(404, NOT_FOUND)
        return kept
    # A plain connection and one prebuilt Core statement: this runs for every delivery, and an
    # ORM session (its transaction bookkeeping) or a statement built anew (its cache key) cost
    # more than the query. The rarer steps below get a session over the same connection.
    async with state.database.engine.connect() as connection:
        session: AsyncSession | None = None
        found = (await connection.execute(_TARGET, {"workflow_id": ref})).first()
        if found is None and not ref.startswith("wf_"):  # an alias
            session = AsyncSession(bind=connection)
            row = await workflows.find_workflow(session, ref)
            if row is not None:
                found = (await connection.execute(_TARGET, {"workflow_id": row.id})).first()
        if found is None:
            raise WebhookError(404, NOT_FOUND)
        workflow_id, hook_secret, stored, enabled, changed, version = found
        if not enabled or version is None or not check_secret(secret, hook_secret):
            raise WebhookError(404, NOT_FOUND)
        key = (workflow_id, version, changed)
        parsed = _PARSED.get(key)
        if parsed is None:
            session = session or AsyncSession(bind=connection)
            definition = (await workflows.get_version(session, workflow_id, version)).definition
            parsed = (
                runnable(workflow_id, version, dict(definition)),
                _settings(workflow_id, stored),
            )
            _remember(key, parsed)
        target, settings = parsed
        signing: tuple[str, ...] = ()
        if settings.signature is not None:
            session = session or AsyncSession(bind=connection)
            environment = _environment(target.workflow)
            signing = tuple(
                [
                    await _resolve(state, session, template, environment, workflow_id)
                    for template in settings.signature.secrets
                ]
            )
    found_target = WebhookTarget(workflow_id, version, target, hook_secret, settings, signing)
    if settings.signature is None and ref == workflow_id:
        state.targets.put(workflow_id, found_target)
    return found_target


def _settings(workflow_id: str, stored: Any) -> WebhookSettings:
    try:
        settings, _ = load_webhook_settings(stored)
    except TriggerError as exc:  # stored at commit, so only a hand-edited row gets here
        log.error("webhook settings of %s are invalid: %s", workflow_id, exc)
        raise WebhookError(500, "this webhook's stored settings are invalid") from None
    return settings


def _remember(key: tuple[str, int, datetime], parsed: tuple[Runnable, WebhookSettings]) -> None:
    _PARSED[key] = parsed
    while len(_PARSED) > _CACHE_SIZE:
        _PARSED.popitem(last=False)


#: Seconds a client is asked to wait (``Retry-After``) when the outbox is full.
RETRY_AFTER = 5


async def accept_runs(
    state: ServiceState, target: WebhookTarget, runs: list[WebhookRun]
) -> list[str]:
    """Accept one run per payload for a start right after the answer; return their ids.

    One transaction (shared with concurrent deliveries: the recorder's group commit) writes each
    run's summary row, ``queued``, and its outbox entry; once it is committed the runs cannot be
    lost, and the relay of this process starts them (:mod:`keel.api.outbox`). A keyed payload
    whose run is already recorded gives that run's id and accepts nothing new.

    Raises:
        ApiError: 503 with ``Retry-After`` when the outbox is full (``KEEL_OUTBOX_MAX``);
            nothing of this delivery was accepted.
    """
    version = target.runnable.version
    assert version is not None  # a webhook always runs a committed version
    rows = []
    for run in runs:
        execution_id = run.run_id or f"run-{uuid.uuid4().hex}"
        accepted = Accepted(
            execution_id,
            target.workflow_id,
            version,
            "webhook",
            trigger=run.payload,
            idempotency_key=run.idempotency_key,
        )
        rows.append(
            RunStart(
                execution_id,
                target.workflow_id,
                version,
                "webhook",
                idempotency_key=run.idempotency_key,
                exists_ok=run.run_id is not None,
                accepted=accepted,
            )
        )
    try:
        await state.recorder.record(rows)
    except OutboxFullError as exc:
        log.warning("webhook of %s refused: %s", target.workflow_id, exc)
        raise ApiError(
            503,
            f"this webhook cannot accept runs now: {exc}",
            None,
            headers={"Retry-After": str(RETRY_AFTER)},
        ) from None
    return [row.execution_id for row in rows]


async def start_runs(
    state: ServiceState, target: WebhookTarget, runs: list[WebhookRun], *, wait: bool = False
) -> list[StartedRun]:
    """Start one run per payload, in order; return the started runs.

    The payloads were checked by :func:`~keel.triggers.webhook.receive` (bounds and ``expects``,
    every one before any run starts), so they go straight to the launcher. A keyed payload whose
    key already started a run gives that run's id and starts nothing (Temporal refuses the
    duplicate id, and the summary row already there is kept). ``wait``: the caller waits for
    the results (the ``/wait`` form; the plain form accepts runs with :func:`accept_runs`).
    """
    orders = [
        RunOrder(
            run.payload,
            execution_id=run.run_id,
            idempotency_key=run.idempotency_key,
            deduplicate=run.run_id is not None,
        )
        for run in runs
    ]
    return await launch_runs(state, target.runnable, orders, trigger_type="webhook", wait=wait)


async def wait_outcomes(runs: list[StartedRun], timeout: float) -> list[RunOutcome] | None:
    """Wait until every run has ended; ``None`` when ``timeout`` seconds pass first.

    Each run is waited for through the handle its start returned, which names the run id: the
    server reads that run's history directly, without first looking up the workflow's current
    run (a store read per waited run on the Temporal server).
    """
    try:
        async with asyncio.timeout(timeout):
            return list(await asyncio.gather(*(_outcome(run) for run in runs)))
    except TimeoutError:
        return None


async def _outcome(run: StartedRun) -> RunOutcome:
    try:
        result = await wait_result(run)
    except RunFailedError as exc:
        return RunOutcome(run.execution_id, _failed_status(exc), error=str(exc))
    return RunOutcome(run.execution_id, "succeeded", result=result)


def _failed_status(exc: RunFailedError) -> str:
    failure = exc.__cause__
    cause = failure.cause if isinstance(failure, WorkflowFailureError) else None
    if isinstance(cause, CancelledError):
        return "cancelled"
    if isinstance(cause, TerminatedError):
        return "terminated"
    if isinstance(cause, TemporalTimeoutError):
        return "timed_out"
    return "failed"


def _environment(workflow: Workflow) -> str:
    """Return the secrets environment of the signing secrets.

    The signature is checked before the body is parsed, so an environment that is an expression
    (over ``TRIGGER``) cannot be evaluated yet: such webhooks read signing secrets in ``default``.
    """
    text = workflow.config.environment
    return "default" if expressions.has_expression(text) else text


async def _resolve(
    state: ServiceState, session: Any, template: str, environment: str, workflow_id: str
) -> str:
    """Return one signing secret: plain text as it is, ``${{ SECRETS.x.y }}`` from the store.

    A reference that resolves to nothing gives ``""`` (skipped by the verifier; with no usable
    secret at all the webhook fails closed with a 500) and is logged for the operator.
    """
    if not expressions.has_expression(template):
        return template
    context: dict[str, Any] = {}
    for name in expressions.references(template).secrets:
        secret = await find_secret(session, state.cipher, name, environment=environment)
        if secret is not None:
            context[name] = dict(secret.values)
    try:
        value = expressions.evaluate(template, {"SECRETS": context})
    except ExpressionError as exc:
        log.warning("webhook of %s: signing secret %s failed: %s", workflow_id, template, exc)
        return ""
    if value is None or value == "":
        log.warning(
            "webhook of %s: signing secret %s is not set in environment '%s'",
            workflow_id,
            template,
            environment,
        )
        return ""
    return str(value)
