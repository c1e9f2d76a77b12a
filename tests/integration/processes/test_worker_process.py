"""``keel worker`` as a process: its CPU priority (``--nice``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from keel.orchestration.devserver import TemporalDevServer
from tests.integration.processes.procs import KeelProcess

pytestmark = pytest.mark.integration


def wait_polling(process: KeelProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "polling task queue" in process.output():
            return
        assert process.popen.poll() is None, process.output()
        time.sleep(0.1)
    raise AssertionError(f"the worker never polled:\n{process.output()}")


@pytest.mark.parametrize(("args", "nice"), [(["--nice", "3"], 3), ([], 0)])
def test_a_worker_lowers_its_cpu_priority_when_asked(
    temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path, args: list[str], nice: int
) -> None:
    env = {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HOME": str(tmp_path / "home"),
        "KEEL_SECRET_KEY": "a passphrase for the worker process test, long enough",
    }
    worker = KeelProcess(["worker", *args], env, tmp_path, "worker")
    try:
        wait_polling(worker)
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.popen.pid) == min(ours + nice, 19)
    finally:
        assert worker.stop() == 0, worker.output()


def test_a_worker_refuses_a_nice_value_out_of_range(tmp_path: Path) -> None:
    worker = KeelProcess(["worker", "--nice", "40"], {}, tmp_path, "worker")
    code = worker.popen.wait(timeout=60)
    assert code == 2
    assert "--nice" in worker.output() and "Traceback" not in worker.output()
    worker.stop()
