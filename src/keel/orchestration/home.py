"""The state folder (``KEEL_HOME``): its lock, ``stack.json``, the local API key, private modes.

One ``keel up`` owns a state folder at a time. What it owns is written down here so that every
other process in the same folder finds it:

- ``keel.lock``: an exclusive ``flock`` held for the life of the owner (the kernel drops it when
  the owner dies, even by SIGKILL), so a second ``keel up`` refuses to start with a clear message
  instead of starting a second Temporal on the same ``temporal.db``.
- ``stack.json``: the owner's pid, the Temporal address, the API URL and the state of each
  supervised child process (read by ``keel worker``/``keel run``, the CLI and ``GET /health``).
- ``api.key``: an API key for commands run in the same folder (mode 0600): ``keel apply`` works
  without a key on the machine where ``keel up`` runs; remote use still needs one.
- ``ray.token``: the token of the Ray head ``keel up`` runs with ``KEEL_EXECUTOR=ray`` (its
  address is in ``stack.json``), so a ``keel worker`` or ``keel run`` started by hand in the same
  folder joins that head instead of starting a Ray of its own (:func:`ray_join_env`).

The folder is created 0700 and these files 0600: it also holds the store and the secret key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from keel.config import private_folder
from keel.errors import ConfigError

STACK_FILE = "stack.json"
LOCK_FILE = "keel.lock"
KEY_FILE = "api.key"
RAY_TOKEN_FILE = "ray.token"

#: Stack files larger than this are not Keel's (a bound on what every command reads).
_MAX_STACK_BYTES = 1024 * 1024


def prepare(home: Path) -> Path:
    """Create the state folder (mode 0700) if needed, tighten its mode, and return its path.

    Tightening follows :func:`keel.config.private_folder`: a shared or personal folder used as
    the state folder (``/tmp``, the home or working folder) is left as it is.
    """
    return private_folder(home, tighten=True).resolve()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (mode 0600)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)


def process_alive(pid: int) -> bool:
    """Return whether a process with this pid exists (and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text()
        return status.rsplit(")", 1)[-1].split()[0] != "Z"
    return True


class FolderLock:
    """An exclusive, non-blocking ``flock`` on a file, naming its holder's pid inside.

    Attributes:
        path: The lock file.
        what: What the lock protects, for the refusal message ("the state folder /x/.keel").
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise a clear error naming the process that holds it.

        Raises:
            ConfigError: Another live process holds the lock.
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"{self.what} is in use by another Keel process (pid {holder}); stop it first, "
                "or use another folder with KEEL_HOME"
            ) from None
        # Close-on-exec (Python's default) keeps the lock out of child processes: it must end
        # with this process, not live on in a dev server it started.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (safe to call twice)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class StackInfo:
    """What ``keel up`` publishes in ``stack.json``.

    Attributes:
        pid: The ``keel up`` process.
        address: The Temporal frontend (``host:port``).
        ui_url: Temporal's Web UI, when there is one.
        api_url: The Keel API's base URL.
        temporal_pid: The dev server's pid, when ``keel up`` started one (found and stopped by
            the next start if ``keel up`` was killed without stopping it).
        ray_address: The Ray head ``keel up`` runs for its workers, when it runs one.
        processes: Each supervised child by name: ``pid``, ``state``, ``restarts``,
            ``last_exit``.
    """

    pid: int
    address: str
    ui_url: str | None = None
    api_url: str | None = None
    temporal_pid: int | None = None
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)
    ray_address: str | None = None

    @classmethod
    def read(cls, home: Path) -> StackInfo | None:
        """Return the published stack of ``home``, or None (no file, or not Keel's)."""
        path = home / STACK_FILE
        try:
            if path.stat().st_size > _MAX_STACK_BYTES:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                pid=int(data.get("pid") or 0),
                address=str(data["address"]),
                ui_url=data.get("ui_url"),
                api_url=data.get("api_url"),
                temporal_pid=data.get("temporal_pid"),
                processes=dict(data.get("processes") or {}),
                ray_address=data.get("ray_address"),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def live(cls, home: Path) -> StackInfo | None:
        """Return the stack of ``home`` if the ``keel up`` that published it still runs."""
        info = cls.read(home)
        return info if info is not None and process_alive(info.pid) else None

    def write(self, home: Path) -> None:
        """Publish this stack in ``home`` (atomically, mode 0600)."""
        write_private(home / STACK_FILE, json.dumps(asdict(self), indent=2))


def ray_env(home: Path) -> dict[str, str]:
    """Return Ray's settings for the head of ``home``'s stack and every driver that joins it.

    Token authentication with the token in ``home`` (``ray.token``), and loopback kept as it is
    (otherwise Ray swaps 127.0.0.1 for the machine's network address, which the head does not
    serve).
    """
    return {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(home / RAY_TOKEN_FILE),
    }


def ray_join_env(home: Path) -> tuple[str, dict[str, str]] | None:
    """Return the address and Ray settings of the live ``keel up`` Ray head of ``home``, if any."""
    info = StackInfo.live(home)
    if info is None or not info.ray_address or not (home / RAY_TOKEN_FILE).is_file():
        return None
    return info.ray_address, ray_env(home)


def remove_stack(home: Path) -> None:
    """Remove ``stack.json`` (``keel up`` stopping)."""
    with contextlib.suppress(OSError):
        (home / STACK_FILE).unlink()


def read_local_key(home: Path) -> str | None:
    """Return the local API key of ``home`` (``api.key``), or None when there is none."""
    path = home / KEY_FILE
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if path.stat().st_size < 1024:
            return path.read_text(encoding="utf-8").strip() or None
    return None


def write_local_key(home: Path, key: str) -> None:
    """Keep ``key`` as the local API key of ``home`` (mode 0600)."""
    write_private(home / KEY_FILE, key + "\n")
