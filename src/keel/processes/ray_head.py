"""The one local Ray head ``keel up`` runs for its workers when ``KEEL_EXECUTOR=ray``.

Without it, every ``keel worker`` would start a Ray of its own (``ray.init()`` with no address):
N workers, N Ray clusters on one machine, each sized to every core. Instead ``keel up`` starts
``ray start --head --block`` from this virtualenv as a supervised child and hands its address to
the workers (``KEEL_RAY_ADDRESS``), so they share one cluster of ``KEEL_RAY_NUM_CPUS`` CPUs.

The head is private to this stack:

- it listens on loopback only, on free ports (its dashboard, agent and metrics ports too, so
  two stacks on one machine do not collide), and Ray is told so
  (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: otherwise Ray swaps 127.0.0.1 for the machine's
  network address, which the head does not serve);
- it requires a token (``RAY_AUTH_MODE=token``) kept in the state folder (``ray.token``, 0600):
  another local user cannot run code on it, and the user's own ``~/.ray`` is not involved;
- its temporary folder (sessions, sockets, Ray's logs) is ``<home>/ray`` when that path is short
  enough for Ray's Unix sockets (107 bytes), else a private folder under the system's temp
  folder, removed when the stack stops (or, if ``keel up`` was killed, by the next ``keel up``
  of the same state folder, which finds it named in ``ray.tempdir``).

``ray start --block`` keeps the node's processes (GCS, raylet, agents) in its process group and
shuts them down on SIGTERM; Ray's worker processes, though, each get a process group of their
own. So :meth:`RayHead.processes` finds the whole tree (the group and every descendant), taken
before the head is stopped, and whatever of it is still alive afterwards is killed: a stopped or
restarted head leaves no Ray process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from keel.config import Settings
from keel.errors import ConfigError
from keel.orchestration.devserver import free_port
from keel.orchestration.home import RAY_TOKEN_FILE, ray_env, write_private
from keel.processes.supervisor import Child

#: Seconds to wait for a started head to say it runs.
RAY_START_TIMEOUT = 120.0
#: The longest temp folder with which Ray's socket paths
#: (``<temp>/session_<stamp>_<pid>/sockets/plasma_store``) stay under the 107-byte limit.
MAX_TEMP_DIR = 40
#: The state-folder file naming the private temp folder in use (removed by the next start if
#: ``keel up`` was killed before it could remove the folder itself).
TEMP_RECORD = "ray.tempdir"
#: The name prefix of those private temp folders.
TEMP_PREFIX = "keel-ray-"
#: The file ``ray start`` writes in its temp folder once the node runs.
_ADDRESS_FILE = "ray_current_cluster"


class RayHead:
    """The stack's Ray head: its command, its address, and what a driver needs to join it.

    Args:
        settings: ``ray_num_cpus`` (None: every core of the machine).
        home: The state folder (the token, and the temp folder when its path is short).
        logs: The folder of the stack's logs (``ray.log`` gets ``ray start``'s output).

    Raises:
        ConfigError: Ray's ``ray`` command is not beside this Python.
    """

    def __init__(self, settings: Settings, home: Path, logs: Path) -> None:
        script = Path(sys.executable).parent / "ray"
        if not script.exists():
            raise ConfigError(
                f"KEEL_EXECUTOR=ray: Ray's `ray` command is not in {script.parent}; install Ray "
                "in this environment, or join a running cluster with KEEL_RAY_ADDRESS"
            )
        self.port = free_port("127.0.0.1")
        self.address = f"127.0.0.1:{self.port}"
        self.num_cpus = settings.ray_num_cpus or os.cpu_count() or 1
        own = home / "ray"
        self._private_temp = len(str(own)) > MAX_TEMP_DIR
        self._temp_record = home / TEMP_RECORD
        remove_stale_temp(self._temp_record)
        if self._private_temp:
            self.temp_dir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            write_private(self._temp_record, str(self.temp_dir))
        else:
            own.mkdir(mode=0o700, exist_ok=True)
            self.temp_dir = own
        self.home = home
        self.token_path = home / RAY_TOKEN_FILE
        if not self.token_path.exists():
            write_private(self.token_path, secrets.token_hex(32))
        command = [
            "start",
            "--head",
            "--block",
            f"--port={self.port}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port('127.0.0.1')}",
            f"--dashboard-agent-listen-port={free_port('127.0.0.1')}",
            f"--metrics-export-port={free_port('127.0.0.1')}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
        ]
        self.child = Child(
            "ray", command, logs / "ray.log", program=[str(script)], env=self.ray_env()
        )

    def ray_env(self) -> dict[str, str]:
        """Return Ray's settings for the head and for every driver that joins it."""
        return ray_env(self.home)

    def driver_env(self) -> dict[str, str]:
        """Return the environment a ``keel worker`` needs to run its actions on this head."""
        return {"KEEL_RAY_ADDRESS": self.address, **self.ray_env()}

    def start(self) -> None:
        """Start ``ray start`` (see :meth:`wait_ready`); call it from the event loop's thread."""
        with contextlib.suppress(OSError):
            (self.temp_dir / _ADDRESS_FILE).unlink()
        self.child.start()

    async def wait_ready(self, timeout: float = RAY_START_TIMEOUT) -> None:
        """Wait until the node runs (``ray start`` writes its address file last).

        Raises:
            ConfigError: ``ray start`` stopped, or did not finish in ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        marker = self.temp_dir / _ADDRESS_FILE
        while time.monotonic() < deadline:
            if self.child.exited() is not None:
                raise ConfigError(f"the Ray head stopped while starting{self._tail()}")
            if marker.exists():
                return
            await asyncio.sleep(0.2)
        raise ConfigError(f"the Ray head did not start in {timeout:g} s{self._tail()}")

    def processes(self) -> dict[int, str]:
        """Return the head's processes now: its process group and all their descendants.

        Each pid maps to its start time, so a pid the system reused is not mistaken for one of
        them later. Empty where there is no ``/proc``.
        """
        pid = self.child.pid
        if pid is None:
            return {}
        table = _process_table()
        found = {p for p, (_, group, _) in table.items() if group == pid}
        children: dict[int, list[int]] = {}
        for p, (parent, _, _) in table.items():
            children.setdefault(parent, []).append(p)
        todo = list(found)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return {p: table[p][2] for p in found}

    def kill(self, known: dict[int, str]) -> None:
        """SIGKILL what is alive of ``known`` (from :meth:`processes`) and of the head now."""
        alive = _process_table()
        for pid, started in {**known, **self.processes()}.items():
            if pid in alive and alive[pid][2] == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def cleanup(self) -> None:
        """Remove the private temp folder (after the head has stopped)."""
        if self._private_temp:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._temp_record.unlink()

    def _tail(self, lines: int = 15) -> str:
        try:
            text = self.child.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"; the end of {self.child.log_path}:\n" + "\n".join(text)


def remove_stale_temp(record: Path) -> None:
    """Remove the private temp folder a killed ``keel up`` of this state folder left behind.

    Called by the ``keel up`` that now holds the folder's lock, so the one that wrote ``record``
    is gone. Only a ``keel-ray-*`` folder directly in the system's temp folder is removed,
    whatever the record says.
    """
    try:
        text = record.read_text(encoding="utf-8").strip()[:4096]
    except (OSError, UnicodeDecodeError):
        return
    left = Path(text)
    ours = left.parent == Path(tempfile.gettempdir()) and left.name.startswith(TEMP_PREFIX)
    if ours and left.is_dir() and not left.is_symlink():
        shutil.rmtree(left, ignore_errors=True)
    with contextlib.suppress(OSError):
        record.unlink()


def _process_table() -> dict[int, tuple[int, int, str]]:
    """Return each process's parent, process group and start time, by pid (from ``/proc``)."""
    table: dict[int, tuple[int, int, str]] = {}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19])
    return table
