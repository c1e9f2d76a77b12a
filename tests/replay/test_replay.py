"""Replay stored histories against the current workflow code to catch non-determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from keel.orchestration.worker import sandbox_runner
from keel.orchestration.workflow import KeelRun
from tests.replay.scenarios import SCENARIOS

HISTORIES = Path(__file__).parent / "histories"


def test_every_scenario_has_a_recorded_history() -> None:
    recorded = {p.stem for p in HISTORIES.glob("*.json")}
    assert recorded == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_history_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(workflows=[KeelRun], workflow_runner=sandbox_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
