"""Cached virtual environments for scripts' pinned dependencies, one per dependency set.

``dependencies: ["six==1.16.0", "requests==2.32.3"]`` is installed once into
``<home>/script-envs/<key>`` (``key``: a digest of the sorted, normalised pins), created with
``python -m venv`` and ``pip install`` against the package index that pip is configured for on
this machine. Later calls with the same set reuse it. A lock file per key makes concurrent calls
(in one worker or in several processes) wait for one build instead of building twice; an
environment is built in a temporary folder and renamed into place only when complete, so a failed
or interrupted install never leaves a half-built environment that later calls would trust.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

from keel.errors import KeelError

#: A pinned requirement: ``name==version`` (extras allowed), nothing else.
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]{0,100}[A-Za-z0-9])?)"
    r"(?P<extras>\[[A-Za-z0-9._,-]{1,200}\])?==(?P<version>[A-Za-z0-9.+!_-]{1,64})$"
)

#: The most dependencies one script may pin.
MAX_DEPENDENCIES = 50

#: How long creating one environment (venv + pip install) may take.
INSTALL_TIMEOUT_SECONDS = 900

#: What is kept of pip's output for an error message.
_PIP_TAIL = 3000


class DependencyError(KeelError):
    """A script's dependencies are not usable: not pinned, or they could not be installed."""


def normalised(dependencies: list[str]) -> list[str]:
    """Return the pins sorted and normalised (``Six==1.16.0`` -> ``six==1.16.0``).

    Raises:
        DependencyError: A dependency is not pinned to one version, or there are too many.
    """
    if len(dependencies) > MAX_DEPENDENCIES:
        raise DependencyError(f"dependencies: at most {MAX_DEPENDENCIES}, not {len(dependencies)}")
    pins = set()
    for given in dependencies:
        match = PIN.match(given.strip())
        if match is None:
            raise DependencyError(
                f"dependencies: '{given[:120]}' is not pinned; write name==version "
                "(e.g. six==1.16.0), so every run installs the same code"
            )
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        pins.add(f"{name}{(match['extras'] or '').lower()}=={match['version']}")
    return sorted(pins)


def environment_key(pins: list[str]) -> str:
    """Return the folder name of a dependency set's environment."""
    text = "\n".join([f"python {sys.version_info.major}.{sys.version_info.minor}", *pins])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def site_packages(environment: Path) -> Path:
    """Return an environment's ``site-packages`` folder."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return environment / "lib" / version / "site-packages"


async def ensure_environment(root: Path, dependencies: list[str], python: str) -> Path:
    """Return the environment holding ``dependencies``, building it first if it is not there.

    Args:
        root: The cache folder (``<home>/script-envs``).
        dependencies: Pinned requirements.
        python: The interpreter the environment is made from (the scripts' interpreter).

    Raises:
        DependencyError: A pin is malformed, or the install failed (the message says why, with
            the end of pip's output: an unreachable index, an unknown package or version).
    """
    pins = normalised(dependencies)
    root.mkdir(parents=True, exist_ok=True)
    target = root / environment_key(pins)
    if (target / ".complete").exists():
        return target
    lock_path = root / f"{target.name}.lock"
    with lock_path.open("a") as lock:
        await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        try:
            if (target / ".complete").exists():
                return target  # another call built it while this one waited
            await _build(target, pins, python)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return target


async def _build(target: Path, pins: list[str], python: str) -> None:
    staging = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        await _command([python, "-m", "venv", "--without-pip", str(staging)], "create a venv")
        # pip of the worker's own environment installs into the new one (--target would skip
        # its metadata; --prefix keeps the layout python -m venv expects).
        await _command(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-warn-script-location",
                "--ignore-installed",  # into the prefix, even if the worker has the package
                # At least one retry: pip names a connection failure only when it retries, and
                # that is how an unreachable index is told apart from an unknown package.
                "--retries",
                "2",
                "--prefix",
                str(staging),
                *pins,
            ],
            f"install {', '.join(pins)}",
        )
        (staging / ".complete").write_text("\n".join(pins) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


async def _command(argv: list[str], what: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), INSTALL_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise DependencyError(
            f"could not {what}: it took more than {INSTALL_TIMEOUT_SECONDS} s (is the package "
            "index reachable?)"
        ) from None
    if process.returncode != 0:
        tail = output.decode("utf-8", errors="replace")[-_PIP_TAIL:].strip()
        hint = ""
        if any(
            word in tail
            for word in (
                "NewConnectionError",
                "Network is unreachable",
                "Temporary failure in name resolution",
                "Max retries exceeded",
                "Connection refused",
            )
        ):
            hint = " The package index is not reachable from this machine."
        raise DependencyError(f"could not {what} (exit {process.returncode}).{hint}\n{tail}")
