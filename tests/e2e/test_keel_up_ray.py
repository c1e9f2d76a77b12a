"""``keel up`` with ``KEEL_EXECUTOR=ray``: one Ray head for the whole stack, supervised.

Two workers run their actions on the one head ``keel up`` starts (not a Ray each); a user action
from an installed package runs in a Ray worker of that head; a ``keel worker`` started by hand in
the same folder joins that head too; a killed head is restarted and runs
complete again; after Ctrl-C no process of the stack, Ray's included, is left.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keel.orchestration.devserver import TemporalDevServer
from tests.e2e.test_keel_up import Process, deliver, free_port, stack, stop
from tests.integration.action_package import ensure_installed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WHERE = """\
title: Where
description: a user action that says which process ran it
actions:
  - ref: where
    action: sample.info.process
returns: ${{ ACTIONS.where.result }}
"""


def processes() -> dict[int, tuple[int, str, str]]:
    """Return each process's parent, name and start time (to tell a reused pid), by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), name, fields[19])
    return found


def descendants(root: int, table: dict[int, tuple[int, str, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def ray_nodes(root: int) -> tuple[list[int], list[int]]:
    """Return the GCS servers and raylets running under ``root``."""
    table = processes()
    under = descendants(root, table)
    gcs = [pid for pid in under if table[pid][1] == "gcs_server"]
    raylets = [pid for pid in under if table[pid][1] == "raylet"]
    return gcs, raylets


@pytest.fixture(scope="module", autouse=True)
def sample_package() -> None:
    """The installed sample package whose ``sample.info.process`` the workflow calls."""
    ensure_installed()


@pytest.fixture
def ray_up(
    temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path
) -> Iterator[tuple[Process, str, Path, dict[str, str]]]:
    (tmp_path / "where.yml").write_text(WHERE)
    env = {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HOME": str(tmp_path / "home"),
        "KEEL_EXECUTOR": "ray",
        "KEEL_RAY_NUM_CPUS": "2",
        "KEEL_RAY_ADDRESS": "",
    }
    port = free_port()
    process = Process(["up", "where.yml", "--port", str(port), "--workers", "2"], env, tmp_path)
    try:
        process.wait_for("Keel is up", timeout=240)
        yield process, f"http://127.0.0.1:{port}", tmp_path / "home", env
    finally:
        stop(process)


def test_keel_up_runs_one_ray_head_for_its_workers_and_stops_it(
    ray_up: tuple[Process, str, Path, dict[str, str]],
) -> None:
    process, url, home, env = ray_up
    webhook = next(line for line in process.seen if "webhook:" in line).split()[-1]
    ray_line = next(line for line in process.seen if line.startswith("Ray: 127.0.0.1:"))
    assert "2 CPUs, one head for every worker" in ray_line

    state = stack(home)["processes"]
    assert set(state) == {"ray", "api", "worker-1", "worker-2"}
    assert state["ray"]["state"] == "running"
    head = state["ray"]["pid"]
    workers = {state[n]["pid"] for n in ("worker-1", "worker-2")}

    # The user action ran in a Ray worker of keel up's head, not in a keel worker.
    ran = deliver(webhook, 0)["result"]["pid"]
    table = processes()
    assert ran not in workers and ran in descendants(head, table), (ran, head)

    # One GCS and one raylet in the whole stack: the head's (the workers started no Ray).
    gcs, raylets = ray_nodes(process.popen.pid)
    assert len(gcs) == 1 and len(raylets) == 1, (gcs, raylets)
    assert set(gcs + raylets) <= descendants(head, table)
    health = httpx.get(f"{url}/health").json()
    assert health["processes"]["ray"]["state"] == "running"
    seen = {pid: table[pid][2] for pid in descendants(process.popen.pid, table)}

    # A `keel worker` started by hand in the same folder joins keel up's head (its address in
    # stack.json, its token in the folder) instead of starting a Ray of its own.
    ray_address = stack(home)["ray_address"]
    assert ray_line.startswith(f"Ray: {ray_address} ")
    lone = Process(["worker"], env, home.parent)
    try:
        lone.wait_for("Ctrl-C", timeout=120)
        said = " ".join(" ".join(lone.seen).split())  # the console wraps long lines
        assert f"(executor: ray at {ray_address})" in said
        assert ray_nodes(lone.popen.pid) == ([], [])
    finally:
        assert stop(lone) == 0

    # kill -9 of `ray start`: its GCS and raylet go with it, a new head starts on the same
    # port, the workers are restarted onto it, and runs complete again.
    os.kill(head, signal.SIGKILL)
    process.wait_for("the Ray head is back", timeout=180)
    for name in ("worker-1", "worker-2"):
        process.wait_for(f"{name} restarted", timeout=120)
    assert deliver(webhook, 0)["result"]["pid"] not in workers
    gcs_after, raylets_after = ray_nodes(process.popen.pid)
    assert len(gcs_after) == 1 and len(raylets_after) == 1, (gcs_after, raylets_after)
    assert not set(gcs + raylets) & set(processes()), "the killed head's GCS/raylet live on"
    state = stack(home)["processes"]
    assert state["ray"]["restarts"] == 1 and state["ray"]["last_exit"] == -signal.SIGKILL
    table = processes()
    seen |= {pid: table[pid][2] for pid in descendants(process.popen.pid, table)}
    temp_dir = next(line for line in process.seen if line.startswith("Ray: ")).split()[-1]
    temp_dir = temp_dir.rstrip(")")

    # Stopped: exit 0, and no process of the stack (GCS, raylet, Ray workers...) is left.
    assert stop(process) == 0
    deadline = time.monotonic() + 20  # a killed process is gone once the system has reaped it
    while True:
        now = processes()
        left = [pid for pid, started in seen.items() if pid in now and now[pid][2] == started]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert left == [], [(pid, now[pid][1]) for pid in left]
    assert not Path(temp_dir).exists()
