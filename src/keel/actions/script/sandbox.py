"""Running one Python script in its own, bounded, isolated process.

Each call gets a fresh private working directory (mode 0700, deleted afterwards) that is also the
script's ``HOME`` and ``TMPDIR``, an environment holding nothing of the worker's (no ``KEEL_*``, no
secrets: only ``PATH``, ``LANG`` and the ``env_vars`` the workflow gives), and a new session, so
that the whole process group is killed when the wall-clock limit passes. Inside, the
:mod:`~keel.actions.script.bootstrap` sets the kernel limits and the audit-hook guards before the
script runs.

Where ``unshare`` can create namespaces (Keel running as root, or unprivileged user namespaces),
the child also runs in a new network namespace (no interface up, not even loopback: no network
at all unless ``allow_network``) and a new PID namespace (it cannot see or signal the worker or any
other process). :func:`isolation` says which of the two levels this machine gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from keel.actions.script import bootstrap

#: What is kept of each of stdout and stderr (the rest is counted, not kept).
MAX_OUTPUT_BYTES = 64 * 1024

#: The largest result a script may return, as JSON.
MAX_RESULT_BYTES = 16 * 1024 * 1024

#: Read at a time from the child's pipes.
_CHUNK = 16 * 1024

#: The bootstrap's source, handed to ``python -c`` (the child imports nothing of Keel).
_BOOTSTRAP = Path(bootstrap.__file__).read_text(encoding="utf-8")

Isolation = Literal["namespaces", "process"]


@dataclass(frozen=True)
class Limits:
    """The bounds of one script run.

    Attributes:
        timeout_seconds: Wall-clock time; the process group is killed when it passes.
        memory_bytes: Address space (``RLIMIT_AS``).
        file_bytes: The largest file the script may write (``RLIMIT_FSIZE``).
        open_files: Open file descriptors (``RLIMIT_NOFILE``).
        processes: Processes of the script's user, where the kernel enforces it (not root).
    """

    timeout_seconds: float
    memory_bytes: int
    file_bytes: int = MAX_RESULT_BYTES + 1024
    open_files: int = 256
    processes: int = 64


@dataclass(frozen=True)
class Outcome:
    """How a script run ended.

    Attributes:
        ok: ``main`` returned and its value is in ``result``.
        result: ``main``'s return value (JSON) when ``ok``.
        error: ``{"type", "message", "traceback"}`` when the script raised; ``None`` otherwise.
        stdout: What the script printed (the first :data:`MAX_OUTPUT_BYTES`).
        stderr: What it wrote to stderr (bounded the same way).
        killed: Why the process was stopped from outside: ``timeout``, ``cpu``, ``signal N``, or
            ``None`` when it ended by itself.
        exit_code: The process's exit code (negative: the signal that ended it).
        isolation: ``namespaces`` or ``process`` (see :func:`isolation`).
    """

    ok: bool
    result: Any
    error: dict[str, str] | None
    stdout: str
    stderr: str
    killed: str | None
    exit_code: int | None
    isolation: Isolation


@functools.cache
def isolation() -> Isolation:
    """Return whether scripts run in new network and PID namespaces here, or as a plain process.

    Tried once per process: ``unshare`` must exist and be allowed to create the namespaces
    (root, or a kernel with unprivileged user namespaces). The probe starts the interpreter the
    scripts run on, as they will be started (not a command looked up on ``PATH``).
    """
    if shutil.which("unshare") is None:
        return "process"
    try:
        done = subprocess.run(
            [*namespace_prefix(allow_network=False), interpreter(), "-I", "-S", "-c", ""],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "process"
    return "namespaces" if done.returncode == 0 else "process"


def namespace_prefix(*, allow_network: bool) -> list[str]:
    """Return the ``unshare`` command a child is wrapped in: new PID, mount and network namespaces.

    Without ``allow_network`` the network namespace has no interface up; as a user other than
    root, an unprivileged user namespace is created around the rest.
    """
    flags = ["--pid", "--fork", "--kill-child", "--mount", "--mount-proc"]
    if os.getuid() != 0:
        flags.insert(0, "--map-root-user")  # an unprivileged user namespace around the rest
    if not allow_network:
        flags.insert(0, "--net")
    return ["unshare", *flags, "--"]


def interpreter() -> str:
    """Return the Python the child runs: the base interpreter (not Keel's virtualenv)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


async def run_script(
    script: str,
    inputs: dict[str, Any],
    limits: Limits,
    *,
    allow_network: bool = False,
    env_vars: dict[str, str] | None = None,
    site_packages: Path | None = None,
) -> Outcome:
    """Run ``script``'s ``main(**inputs)`` in a sandboxed child process; return how it ended.

    Args:
        script: Python source defining ``main`` (or a single function).
        inputs: Keyword arguments of ``main``.
        limits: Time, memory and size bounds.
        allow_network: Leave the network reachable (no network namespace, no socket guard).
        env_vars: Environment variables the script sees, besides ``PATH``, ``HOME``, ``TMPDIR``
            and ``LANG``.
        site_packages: A dependencies environment's ``site-packages`` to import from.
    """
    workdir = Path(tempfile.mkdtemp(prefix="keel-script-"))
    workdir.chmod(0o700)
    try:
        return await _run_in(
            workdir, script, inputs, limits, allow_network, env_vars, site_packages
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run_in(
    workdir: Path,
    script: str,
    inputs: dict[str, Any],
    limits: Limits,
    allow_network: bool,
    env_vars: dict[str, str] | None,
    site_packages: Path | None,
) -> Outcome:
    python = interpreter()
    prefix = Path(python).resolve().parent.parent
    read_roots = [str(prefix), sys.base_prefix, sys.base_exec_prefix]
    paths = []
    if site_packages is not None:
        read_roots.append(str(site_packages.parent.parent.parent))  # the whole environment
        paths.append(str(site_packages))
    request = {
        "workdir": str(workdir),
        "paths": paths,
        "read_roots": sorted(set(read_roots)),
        "allow_network": allow_network,
        "script": script,
        "inputs": inputs,
        "limits": {
            # The CPU limit is a backstop: the wall clock below stops a script sooner.
            "cpu_seconds": max(1, int(limits.timeout_seconds) + 1),
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": limits.open_files,
            "processes": limits.processes,
        },
    }
    mode = await asyncio.to_thread(isolation)  # probed once; never blocks the loop
    command = [python, "-I", "-S", "-c", _BOOTSTRAP]
    if mode == "namespaces":
        command = [*namespace_prefix(allow_network=allow_network), *command]
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **(env_vars or {}),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "PYTHONIOENCODING": "utf-8",
    }
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=workdir,
        env=environment,
        start_new_session=True,  # its own process group: killed as a whole
    )
    killed: str | None = None
    try:
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        reading = asyncio.gather(_bounded(process.stdout), _bounded(process.stderr))
        process.stdin.write(json.dumps(request).encode("utf-8"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await process.stdin.drain()
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=limits.timeout_seconds)
        except TimeoutError:
            killed = "timeout"
        _kill_group(process.pid)
        await process.wait()
        stdout, stderr = await reading
    finally:
        _kill_group(process.pid)  # also when this call is cancelled
    code = process.returncode
    if killed is None and code is not None and code < 0:
        killed = "cpu" if -code in (signal.SIGXCPU, signal.SIGKILL) else f"signal {-code}"
    outcome = _read_outcome(workdir)
    return Outcome(
        ok=bool(outcome and outcome.get("ok")),
        result=outcome.get("result") if outcome else None,
        error=outcome.get("error") if outcome and not outcome.get("ok") else None,
        stdout=stdout,
        stderr=stderr,
        killed=killed,
        exit_code=code,
        isolation=mode,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _bounded(stream: asyncio.StreamReader) -> str:
    """Read ``stream`` to its end; keep the first :data:`MAX_OUTPUT_BYTES`, count the rest."""
    kept = bytearray()
    dropped = 0
    while chunk := await stream.read(_CHUNK):
        room = MAX_OUTPUT_BYTES - len(kept)
        kept += chunk[:room]
        dropped += max(0, len(chunk) - room)
    text = kept.decode("utf-8", errors="replace")
    return text + (f"\n[... {dropped:,} more bytes not kept]" if dropped else "")


def _read_outcome(workdir: Path) -> dict[str, Any] | None:
    """Return the outcome the bootstrap wrote, or ``None`` (killed, or it wrote nothing usable)."""
    path = workdir / bootstrap.RESULT_FILE
    try:
        if path.is_symlink() or path.stat().st_size > MAX_RESULT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
