"""Large scatters split over relay runs, so that no run's history grows with the item count.

Workflow code (deterministic, no I/O). A scatter of more than :data:`STREAMS_PER_RUN` items does
not walk its streams itself: it starts relay runs of the same workflow type (at most
:data:`RELAYS_AT_ONCE` at a time), each walking one slice of the items with the scatter's context
and answering one :class:`~keel.orchestration.payloads.StreamReport` per item, in order. The
relaying run's history then holds a few events per slice instead of the streams' activity calls,
as :mod:`keel.orchestration.children` does for large child fan-outs. The relay runs appear as
child runs of the run (``<run>--<scatter>-streams<offset>``); their records show each item's
results, and the relaying run's record lists every item's status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from keel.dsl.regions import Region
from keel.orchestration.context import RunContext
from keel.orchestration.payloads import (
    WORKFLOW_NAME,
    ActionEvent,
    ActionState,
    ParentLink,
    RunRequest,
    StreamRelaySpec,
    StreamReport,
)

#: The most streams one run walks itself; a larger scatter is split into relay runs.
STREAMS_PER_RUN = 250
#: How many relay runs of one scatter run at once.
RELAYS_AT_ONCE = 10
#: Stream entries kept per action for the progress query (the rest are counted, not kept).
MAX_STREAM_STATES = 1000

_UNSAFE = re.compile(r"[^a-z0-9_]+")


class StreamRelays:
    """Starts the relay runs of a run's large scatters and collects their reports."""

    def __init__(
        self, request: RunRequest, states: Mapping[str, ActionState], environment: str
    ) -> None:
        self._request = request
        self._states = states
        self._environment = environment

    async def run(
        self, region: Region, context: RunContext, items: list[Any], stream: str
    ) -> list[StreamReport]:
        """Walk one stream per item in relay runs; return the reports in item order."""
        info = workflow.info()
        window = asyncio.Semaphore(RELAYS_AT_ONCE)
        # Ids must differ between the streams of an outer region that each relay a scatter.
        where = f"-{_UNSAFE.sub('_', stream)}" if stream else ""

        async def relay(offset: int) -> list[StreamReport]:
            chunk = items[offset : offset + STREAMS_PER_RUN]
            spec = StreamRelaySpec(
                region.opener, chunk, offset, stream, dict(context.actions), dict(context.env)
            )
            request = dataclasses.replace(
                self._request,
                completed={},
                environment=self._environment,
                parent=ParentLink(info.workflow_id, self._request.workflow_id, region.opener),
                relay=None,
                load_variables=False,
                variables=dict(context.variables),
                streams=spec,
            )
            async with window:
                try:
                    reports: list[StreamReport] = await workflow.execute_child_workflow(
                        WORKFLOW_NAME,
                        request,
                        id=f"{info.workflow_id}--{region.opener}-streams{offset}{where}",
                        task_queue=info.task_queue,
                        parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                        result_type=list[StreamReport],
                    )
                except ChildWorkflowError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    return [_lost(offset + i, region.opener, str(cause)) for i in range(len(chunk))]
            self._merge(reports, f"{info.workflow_id}--{region.opener}-streams{offset}{where}")
            return reports

        offsets = range(0, len(items), STREAMS_PER_RUN)
        parts = await asyncio.gather(*(relay(offset) for offset in offsets))
        return [report for part in parts for report in part]

    def _merge(self, reports: list[StreamReport], relay_id: str) -> None:
        """Add the relayed streams' entries to this run's record (their results stay there)."""
        noted: set[str] = set()
        for report in reports:
            for ref, entries in report.states.items():
                top = self._states[ref]
                if top.status == "pending":
                    top.status = "running"
                room = MAX_STREAM_STATES - len(top.streams)
                top.streams.extend(entries[: max(room, 0)])
                if ref not in noted:
                    noted.add(ref)
                    top.events.append(
                        ActionEvent("info", f"results of relayed items are in run {relay_id}")
                    )
            report.states = {}


def _lost(index: int, opener: str, message: str) -> StreamReport:
    error = {"index": index, "ref": opener, "type": "RelayFailed", "message": message}
    return StreamReport(index, "failed", error=error)
