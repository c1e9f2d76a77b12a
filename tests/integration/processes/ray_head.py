"""A Ray head node started with ``ray start --head`` on free ports, for the topology test.

``ray start --block`` keeps the node's processes as its children, in a session of their own, so
stopping it ends exactly this node; ``ray stop`` would end every Ray on the machine, including
other test sessions'.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ray

from tests.integration.processes.procs import free_port

#: Ray's own settings for a node on loopback, given to the head and to its drivers (the keel
#: workers): without the first, Ray replaces a 127.0.0.1 address by the machine's network
#: address, which the head (bound to loopback) does not serve; the second turns off the token
#: authentication Ray enables by default (its token would have to be handed to every driver).
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


@contextmanager
def ray_head() -> Iterator[str]:
    """Start a Ray head with 2 CPUs on free ports; yield its address; stop it afterwards."""
    port = free_port()
    # A short folder: Ray's Unix sockets live under it and their paths are limited to 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="kray", dir="/tmp")
    ray_cli = Path(sys.executable).parent / "ray"
    command = [
        str(ray_cli),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--include-dashboard=false",
        f"--dashboard-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    output = Path(temp_dir) / "ray-start.out"
    with output.open("wb") as sink:
        head = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **LOOPBACK_ENV},
        )
    address = f"127.0.0.1:{port}"
    try:
        _wait_up(address, head, output)
        yield address
    finally:
        _stop(head, temp_dir)


def _wait_up(
    address: str, head: subprocess.Popen[bytes], output: Path, timeout: float = 120
) -> None:
    """Wait until ``ray start`` says the node runs, then until a driver can join it."""
    deadline = time.monotonic() + timeout
    while b"Ray runtime started" not in output.read_bytes():
        assert head.poll() is None, f"ray start exited:\n{output.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"ray start hangs:\n{output.read_text()}"
        time.sleep(0.3)
    probe = f"import ray; ray.init(address={address!r}, log_to_driver=False); ray.shutdown()"
    while time.monotonic() < deadline:
        assert head.poll() is None, f"ray start exited with code {head.returncode}"
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            timeout=60,
            check=False,
            env={**os.environ, **LOOPBACK_ENV},
        )
        if done.returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray head at {address} did not come up (ray {ray.__version__})")


def _stop(head: subprocess.Popen[bytes], temp_dir: str) -> None:
    """Stop the head's session, then any process of this node that outlived it."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(head.pid, signum)
        except ProcessLookupError:
            break
        try:
            head.wait(timeout=15)
            break
        except subprocess.TimeoutExpired:
            continue
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if temp_dir.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
    shutil.rmtree(temp_dir, ignore_errors=True)
