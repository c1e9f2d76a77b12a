"""The first code a script's child process runs: limits, guards, then the user's ``main``.

This file is not imported by Keel: its source is passed to ``python -I -S -c`` (isolated mode, no
``site``), so it may use the standard library only. It reads one JSON request on stdin, then, in
this order and before any user code runs:

1. sets the kernel's resource limits (CPU seconds, address space, file size, open files, no core
   dumps; processes too, where the kernel enforces that limit for this user);
2. installs an audit hook (PEP 578) that refuses, for the rest of the process's life, what a
   script is not allowed to do: create sockets unless ``allow_network``; start processes (fork,
   exec, spawn, ``subprocess``, ``os.system``), signal other processes, load native libraries
   through ``ctypes``, create links; open files outside its working directory and the read-only
   places Python needs (the standard library, the dependencies' environment);
3. compiles the script, finds ``main`` (or its only function), and calls it with the inputs as
   keyword arguments.

The outcome (``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``) is written to a
file in the working directory; the parent reads it after the process ends. Audit hooks cannot be
removed once added, but they guard Python-level operations only: native code could bypass them,
which is why the parent adds kernel-level isolation (namespaces) where the machine allows it.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import sys
import traceback
from typing import Any

#: The file (in the working directory) the outcome is written to.
RESULT_FILE = ".keel-result.json"

#: Read-only places any script may open files in (besides Python's own prefix).
_SYSTEM_READ = (
    "/dev/null",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/etc/localtime",
    "/usr/share/zoneinfo",
)

#: Read-only places a script with ``allow_network`` also needs (name resolution, CA bundles).
_NETWORK_READ = (
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/usr/lib/ssl",
    "/usr/share/ca-certificates",
)

_PROCESS_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
    }
)
_SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
_LINK_EVENTS = frozenset({"os.link", "os.symlink"})
_NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.addressof"})
#: Events that change a path: the positions of their path arguments and of each one's dir_fd.
_MUTATIONS: dict[str, tuple[tuple[int, ...], tuple[int | None, ...]]] = {
    "os.remove": ((0,), (1,)),
    "os.rmdir": ((0,), (1,)),
    "os.mkdir": ((0,), (2,)),
    "os.rename": ((0, 1), (2, 3)),
    "os.chmod": ((0,), (2,)),
    "os.chown": ((0,), (3,)),
    "os.utime": ((0,), (3,)),
    "os.truncate": ((0,), (None,)),
    "os.chflags": ((0,), (None,)),
    "os.lchflags": ((0,), (None,)),
    "os.setxattr": ((0,), (None,)),
    "os.removexattr": ((0,), (None,)),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxViolationError(PermissionError):
    """A script tried something the sandbox does not allow."""


def _lower(kind: int, soft: int, hard: int | None = None) -> None:
    """Lower one kernel limit to ``soft``/``hard``, never above the hard limit it has now."""
    _, current = resource.getrlimit(kind)
    wanted = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, wanted = min(soft, current), min(wanted, current)
    resource.setrlimit(kind, (soft, wanted))


def _user_tasks(uid: int) -> int:
    """Return how many tasks (processes and threads) user ``uid`` runs now, from ``/proc``."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue  # it ended meanwhile
    return count


def _set_limits(limits: dict[str, int]) -> None:
    """Lower this process's kernel limits (they hold for every thread and for exec)."""
    cpu = limits["cpu_seconds"]
    _lower(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL at the hard
    _lower(resource.RLIMIT_AS, limits["memory_bytes"])
    _lower(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _lower(resource.RLIMIT_NOFILE, limits["open_files"])
    _lower(resource.RLIMIT_CORE, 0)
    uid = os.getuid()
    if uid != 0:
        # RLIMIT_NPROC counts every task of the user (the worker's threads too) and is not
        # enforced for root: this many more than the user runs now, on top of the audit hook.
        _lower(resource.RLIMIT_NPROC, _user_tasks(uid) + limits["processes"])


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _descriptor_path(fd: int) -> str | None:
    """Return the path an open descriptor refers to (through ``/proc``), or ``None``."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _guard(workdir: str, read_roots: tuple[str, ...], allow_network: bool) -> None:
    """Install the audit hook that refuses what a script may not do (see the module doc)."""
    readable = (workdir, *read_roots, *_SYSTEM_READ, *(_NETWORK_READ if allow_network else ()))
    cwd = [workdir]

    def resolve(path: object, dir_fd: object = None) -> str:
        """Return the absolute path an event names (a descriptor resolved through /proc).

        ``dir_fd`` is ``None`` or negative (-1) when the call gave none.
        """
        if isinstance(path, int):
            found = _descriptor_path(path)
            if found is None:
                raise SandboxViolationError(f"the script may not use descriptor {path} here")
            return found
        text = os.fsdecode(path) if isinstance(path, bytes | str) else str(path)
        base = cwd[0]
        if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(text):
            found = _descriptor_path(dir_fd)
            if found is None:
                raise SandboxViolationError(f"the script may not use descriptor {dir_fd} here")
            base = found
        return os.path.normpath(os.path.join(base, text))

    def check(full: str, writing: bool) -> None:
        allowed = _under(full, (workdir,)) if writing else _under(full, readable)
        if not allowed:
            what = "change" if writing else "read"
            raise SandboxViolationError(f"the script may not {what} {full}: outside its sandbox")

    def opened(path: object, mode: object, flags: object) -> None:
        if isinstance(path, int):
            return  # an already open descriptor, opened through this hook
        full = resolve(path)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
        check(full, writing)
        if not writing and not _under(full, (workdir,)) and os.path.isdir(full):
            # A descriptor of an outside folder would let dir_fd reach into it (the open
            # event does not carry dir_fd): listing is allowed, opening is not.
            raise SandboxViolationError(f"the script may not open the folder {full}")

    def changed(event: str, args: tuple[Any, ...]) -> None:
        positions, dir_fds = _MUTATIONS[event]
        for position, dir_fd in zip(positions, dir_fds, strict=True):
            if position < len(args):
                fd = args[dir_fd] if dir_fd is not None and dir_fd < len(args) else None
                check(resolve(args[position], fd), writing=True)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            opened(*args[:3])
        elif event in _MUTATIONS:
            changed(event, args)
        elif event in ("os.listdir", "os.scandir") and args and args[0] is not None:
            check(resolve(args[0]), writing=False)
        elif event == "os.chdir":
            full = resolve(args[0])
            check(full, writing=False)
            cwd[0] = full
        elif event.startswith("socket.") and not allow_network:
            raise SandboxViolationError(
                "the script may not use the network (allow_network is false)"
            )
        elif event in _PROCESS_EVENTS:
            raise SandboxViolationError("the script may not start processes")
        elif event in _SIGNAL_EVENTS:
            raise SandboxViolationError("the script may not signal processes")
        elif event in _LINK_EVENTS:
            raise SandboxViolationError("the script may not create links")
        elif event in _NATIVE_EVENTS:
            raise SandboxViolationError("the script may not load native libraries through ctypes")

    sys.addaudithook(hook)


def _entry(namespace: dict[str, Any]) -> Any:
    """Return ``main``, or the script's only function."""
    functions = {
        name: value
        for name, value in namespace.items()
        if callable(value) and getattr(value, "__module__", None) == "__keel_script__"
    }
    if "main" in functions:
        return functions["main"]
    if len(functions) == 1:
        return next(iter(functions.values()))
    if not functions:
        raise ValueError("the script defines no function; define main(...)")
    raise ValueError(
        f"the script defines {len(functions)} functions ({', '.join(sorted(functions))}) and "
        "none is named main"
    )


def _arguments(function: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Return the keyword arguments of ``main``: the inputs it names; ``None`` for the rest."""
    parameters = inspect.signature(function).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(inputs) - set(parameters)) if not takes_any else []
    if unknown:
        raise TypeError(
            f"inputs {', '.join(unknown)} are not parameters of {function.__name__}"
            f"({', '.join(parameters)})"
        )
    arguments = dict(inputs)
    for name, parameter in parameters.items():
        named = parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        if named and name not in arguments and parameter.default is parameter.empty:
            arguments[name] = None  # Tracecat's rule: a missing input is None
    return arguments


def _traceback(exc: BaseException) -> str:
    """Return the traceback of the script's exception without this bootstrap's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != "<string>"]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join([*lines, *traceback.format_exception_only(exc)])


def _write(workdir: str, outcome: dict[str, Any]) -> None:
    with open(os.path.join(workdir, RESULT_FILE), "w", encoding="utf-8") as file:
        json.dump(outcome, file)


def main() -> None:
    """Run the request on stdin (see the module doc); exit 0 when an outcome was written."""
    request = json.loads(sys.stdin.read())
    workdir: str = request["workdir"]
    os.chdir(workdir)
    sys.path[:0] = list(request["paths"])
    _set_limits(request["limits"])
    _guard(workdir, tuple(request["read_roots"]), bool(request["allow_network"]))
    sys.stdin.close()
    try:
        namespace: dict[str, Any] = {"__name__": "__keel_script__"}
        code = compile(request["script"], "<script>", "exec")
        exec(code, namespace)
        function = _entry(namespace)
        value = function(**_arguments(function, request["inputs"]))
    except BaseException as exc:  # the script's own failure (SystemExit too)
        _write(
            workdir,
            {
                "ok": False,
                "error": {
                    "type": type(exc).__name__,
                    "message": str(exc)[:2000],
                    "traceback": _traceback(exc)[-8000:],
                },
            },
        )
        return
    try:
        text = json.dumps({"ok": True, "result": value})
    except (TypeError, ValueError) as exc:
        _write(
            workdir,
            {
                "ok": False,
                "error": {
                    "type": "TypeError",
                    "message": f"main returned a value that is not JSON: {exc}",
                    "traceback": "",
                },
            },
        )
        return
    with open(os.path.join(workdir, RESULT_FILE), "w", encoding="utf-8") as file:
        file.write(text)


if __name__ == "__main__":
    main()
