"""``keel up`` as a user runs it: a real process serving the API over a real Temporal and store.

The process applies a workflow file at start, the test runs it through the HTTP API and the thin
CLI commands (``keel apply``, ``keel runs``, ``keel secrets``), reads the result back, and stops
the process with SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from keel.cli.main import app
from keel.orchestration.devserver import TemporalDevServer
from tests.integration.api.flows import BROKEN, FIXED

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET_FLOW = """\
title: Secret length
description: reads a secret set through the CLI
actions:
  - ref: token
    action: core.transform.apply
    args: {value: "${{ SECRETS.intel.api_key }}", python_lambda: "lambda k: len(k)"}
returns: ${{ ACTIONS.token.result }}
"""


runner = CliRunner()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keel(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli.main", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Process:
    """A running ``keel up`` whose output is read line by line in a thread."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "keel.cli.main", *args],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"'{text}' never came; output so far:\n" + "\n".join(self.seen))


@pytest.fixture
def env(temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HOME": str(tmp_path / "home"),
    }


@pytest.fixture
def keel_up(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Process, str]]:
    (tmp_path / "enrich.yml").write_text(FIXED)
    port = free_port()
    process = Process(["up", "enrich.yml", "--port", str(port)], env, tmp_path)
    try:
        process.wait_for("Keel is up")
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
                raise
        process.reader.join(timeout=5)
        assert process.popen.stdout is not None
        process.popen.stdout.close()


def wait_run(http: httpx.Client, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        detail: dict[str, Any] = http.get(f"/runs/{execution_id}").json()
        if detail["status"] not in ("queued", "running"):
            return detail
        time.sleep(0.1)
    raise AssertionError(f"run {execution_id} did not finish")


def cli(*args: str, url: str, key: str) -> Result:
    """Run a thin service command in-process (it talks HTTP to the ``keel up`` process)."""
    return runner.invoke(app, [*args, "--url", url, "--api-key", key])


def test_keel_up_serves_the_api_and_applies_files(
    keel_up: tuple[Process, str], env: dict[str, str], tmp_path: Path
) -> None:
    process, url = keel_up
    webhook = next(line for line in process.seen if "webhook:" in line)
    assert f"{url}/webhooks/wf_" in webhook

    created = keel("apikey", "create", "--name", "e2e", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        assert httpx.get(f"{url}/workflows").status_code == 401
        started = http.post("/workflows/enrich/runs", json={"inputs": {"n": 4}})
        assert started.status_code == 202, started.text
        detail = wait_run(http, started.json()["execution_id"])
        assert detail["status"] == "succeeded"
        assert detail["actions"][1]["result"] == {"doubled": 8, "label": "none"}

        # keel apply: a valid file commits; a broken one prints each located problem, exit 1.
        good, broken = tmp_path / "secret_len.yml", tmp_path / "broken.yml"
        good.write_text(SECRET_FLOW)
        broken.write_text(BROKEN)
        applied = cli("apply", str(good), str(broken), "--json", url=url, key=key)
        assert applied.exit_code == 1
        (entry,) = json.loads(applied.stdout)
        assert entry["alias"] == "secret_len" and entry["version"] == 1
        assert entry["webhook_url"].startswith(f"{url}/webhooks/{entry['id']}/")
        assert f"{broken}:11: action 'first', field 'args.value'" in applied.stderr
        assert f"{broken}:13: action 'second', field 'action'" in applied.stderr
        again = cli("apply", str(good), url=url, key=key)
        assert again.exit_code == 0 and "unchanged, version 1" in again.stdout

        # keel secrets: the worker of keel up reads them from the store.
        made = cli("secrets", "set", "intel", "api_key=abcdef", url=url, key=key)
        assert made.exit_code == 0, made.stderr
        listed = cli("secrets", "list", "--json", url=url, key=key)
        assert "abcdef" not in listed.stdout and json.loads(listed.stdout)[0]["keys"] == ["api_key"]
        run = http.post("/workflows/secret_len/runs", json={})
        detail = wait_run(http, run.json()["execution_id"])
        assert detail["status"] == "succeeded" and detail["actions"][0]["result"] == 6

    runs = cli("runs", "list", "--json", url=url, key=key)
    assert runs.exit_code == 0, runs.stderr
    items = json.loads(runs.stdout)["items"]
    assert [r["status"] for r in items] == ["succeeded", "succeeded"]
    shown = cli("runs", "show", items[0]["execution_id"], url=url, key=key)
    assert shown.exit_code == 0 and "token" in shown.stdout and "succeeded" in shown.stdout
    table = cli("runs", "list", url=url, key=key)
    assert items[1]["execution_id"][:12] in table.stdout  # ids as unique prefixes
    refused = cli("runs", "rerun", items[0]["execution_id"], url=url, key=key)
    assert refused.exit_code == 1 and "only a failed run" in refused.stderr
    no_key = cli("runs", "list", url=url, key="")
    assert no_key.exit_code == 1 and "missing API key" in no_key.stderr

    process.popen.send_signal(signal.SIGTERM)
    assert process.popen.wait(timeout=20) == 0


def test_keel_up_refuses_a_broken_file_before_starting(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN)
    done = keel("up", "broken.yml", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "broken.yml:13" in done.stderr and "not starting" in done.stderr


def test_keel_up_says_when_the_port_is_taken(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = keel("up", "--port", str(port), env=env, cwd=tmp_path)
    assert done.returncode == 1 and "cannot serve the API" in done.stderr, done.stderr


# ---- keel up as a supervisor of its own dev server, API and worker processes ----


def stop(process: Process) -> int:
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
            raise
    process.reader.join(timeout=5)
    assert process.popen.stdout is not None
    process.popen.stdout.close()
    return process.popen.returncode


def stack(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "stack.json").read_text())
    return data


def deliver(webhook: str, n: int, attempts: int = 60) -> dict[str, Any]:
    """POST to the webhook's /wait form until it answers 200 (Temporal may be restarting)."""
    last = ""
    for _ in range(attempts):
        try:
            answer = httpx.post(f"{webhook}/wait", json={"n": n}, timeout=30)
        except httpx.TransportError as exc:
            last = str(exc)
        else:
            if answer.status_code == 200:
                body: dict[str, Any] = answer.json()
                return body
            last = f"{answer.status_code} {answer.text}"
        time.sleep(0.5)
    raise AssertionError(f"the webhook never answered 200: {last}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def own_env(tmp_path: Path) -> dict[str, str]:
    """No KEEL_TEMPORAL_ADDRESS: keel up starts and supervises its own dev server."""
    return {"KEEL_HOME": str(tmp_path / "home"), "KEEL_TASK_QUEUE": "keel-up-own"}


def up_own(env: dict[str, str], cwd: Path, *files: str) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        ["up", *files, "--port", str(port), "--temporal-port", str(free_port()), "--workers", "1"],
        env,
        cwd,
    )
    try:
        process.wait_for("Keel is up", timeout=120)
    except BaseException:
        stop(process)  # its output pipe too: left open, it fails a later test as unraisable
        raise
    return process, f"http://127.0.0.1:{port}"


def test_keel_up_restarts_a_killed_worker_and_dev_server_and_runs_complete(
    own_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "enrich.yml").write_text(FIXED)
    home = tmp_path / "home"
    process, url = up_own(own_env, tmp_path, "enrich.yml")
    try:
        webhook = next(line for line in process.seen if "webhook:" in line).split()[-1]
        assert deliver(webhook, 1)["result"] == {"doubled": 2, "label": "none"}
        assert httpx.get(f"{url}/health").json()["status"] == "ok"

        # kill -9 of the worker: keel up says so, starts another, and runs complete.
        worker = stack(home)["processes"]["worker-1"]["pid"]
        os.kill(worker, signal.SIGKILL)
        process.wait_for("worker-1 restarted")
        assert stack(home)["processes"]["worker-1"]["pid"] != worker
        assert deliver(webhook, 2)["result"] == {"doubled": 4, "label": "none"}

        # kill -9 of the dev server: restarted on the same port and file; runs complete.
        temporal = stack(home)["temporal_pid"]
        os.kill(temporal, signal.SIGKILL)
        process.wait_for("Temporal dev server is back")
        assert deliver(webhook, 3)["result"] == {"doubled": 6, "label": "none"}
        health = httpx.get(f"{url}/health").json()
        assert health["temporal"] == "ok"
        assert health["processes"]["temporal"]["restarts"] == 1
        assert health["processes"]["worker-1"]["restarts"] == 1
        assert health["processes"]["worker-1"]["last_exit"] == -signal.SIGKILL
        log = (home / "logs" / "up.log").read_text()
        assert "worker-1" in log and "killed by signal 9" in log and "dev server died" in log
    finally:
        assert stop(process) == 0
    assert not (home / "stack.json").exists()


def test_same_folder_commands_find_keel_up_and_its_local_key(
    own_env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    process, url = up_own(own_env, tmp_path)
    try:
        assert stat_mode(home) == 0o700
        for name in ("api.key", "stack.json", "keel.lock"):
            assert stat_mode(home / name) == 0o600, name
        assert stack(home)["api_url"] == url

        # No --url, no key: `keel apply` and `keel runs` reach this folder's keel up.
        (tmp_path / "enrich.yml").write_text(FIXED)
        applied = keel("apply", "enrich.yml", env=own_env, cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        assert "version 1" in applied.stdout and f"{url}/webhooks/" in applied.stdout
        listed = keel("runs", "list", "--json", env=own_env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        # The local key is for this API only: another URL gets no key.
        elsewhere = keel("runs", "list", "--url", f"{url}/", env=own_env, cwd=tmp_path)
        assert elsewhere.returncode == 0, elsewhere.stderr
        remote = {**own_env, "KEEL_API_URL": f"http://localhost:{url.rsplit(':', 1)[1]}"}
        refused = keel("runs", "list", env=remote, cwd=tmp_path)
        assert refused.returncode == 1 and "missing API key" in refused.stderr

        # keel run in the same folder runs on this keel up's Temporal (a dev server of its own
        # on the same temporal.db would be refused by the lock).
        ran = keel("run", "enrich.yml", "--input", '{"n": 5}', "--json", env=own_env, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout) == {"doubled": 10, "label": "none"}
        # ... and is recorded in keel up's store, with its console page named.
        (announced,) = [line for line in ran.stderr.splitlines() if line.startswith("run ")]
        run_id = announced.removeprefix("run ").strip()
        assert f"console: {url}/ui/runs/{run_id}" in ran.stderr
        listed = keel("runs", "list", "--json", env=own_env, cwd=tmp_path)
        recorded = {r["execution_id"]: r for r in json.loads(listed.stdout)["items"]}
        assert recorded[run_id]["trigger_type"] == "cli"
        assert recorded[run_id]["status"] == "succeeded"

        # A second keel up (or dev server) on the same folder refuses to start, clearly.
        second = keel("up", "--port", str(free_port()), env=own_env, cwd=tmp_path)
        assert second.returncode == 1
        said = " ".join(second.stderr.split())  # rich wraps long lines
        assert f"the state folder {home} is in use by another Keel process" in said
        assert f"(pid {process.popen.pid})" in said
    finally:
        assert stop(process) == 0


def test_a_dev_server_left_by_a_killed_keel_up_is_stopped_by_the_next(
    own_env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    first, _ = up_own(own_env, tmp_path)
    info = stack(home)
    first.popen.kill()
    first.popen.wait()
    stop(first)
    assert alive(info["temporal_pid"]), "the dev server runs in its own session"
    deadline = time.monotonic() + 30
    while any(alive(info["processes"][n]["pid"]) for n in ("api", "worker-1")):
        assert time.monotonic() < deadline, "the children outlived keel up"
        time.sleep(0.2)

    second, url = up_own(own_env, tmp_path)
    try:
        assert f"stopped a Temporal dev server (pid {info['temporal_pid']}) left behind" in (
            "\n".join(second.seen)
        )
        assert not alive(info["temporal_pid"])
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
    finally:
        assert stop(second) == 0


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
