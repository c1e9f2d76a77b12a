"""``core.script.run_python``: a Python script's ``main(**inputs)``, run in a sandboxed process.

Tracecat's action, with its argument names (``script``, ``inputs``, ``dependencies``,
``timeout_seconds``, ``allow_network``, ``env_vars``). The script runs in a separate process with
CPU, memory, file-size and wall-clock limits, in a private temporary folder, with no network
unless ``allow_network`` (see :mod:`keel.actions.script.sandbox` for what isolates it, and the
README's threat model for what does not). Pinned ``dependencies`` are installed once per set into
a cached environment (:mod:`keel.actions.script.environments`).

The action's result is ``main``'s return value, which must be JSON. ``include_output: true``
(Keel's addition) returns ``{"result", "stdout", "stderr"}`` instead. A script that raises fails
the action with its exception and the end of its stderr.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from keel.actions.registry import action
from keel.actions.schema import Doc
from keel.actions.script.environments import ensure_environment, site_packages
from keel.actions.script.sandbox import Limits, Outcome, interpreter, run_script
from keel.config import get_settings
from keel.errors import KeelError

#: What of stderr an error message carries.
_ERROR_STDERR = 2000

#: A name an environment variable may have.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

#: The largest script accepted, in characters.
MAX_SCRIPT_CHARS = 256 * 1024


class ScriptError(KeelError):
    """The script failed: it raised, ran out of time or memory, or returned no usable result."""


@action("core.script.run_python")
async def run_python(
    script: Annotated[
        str,
        Doc(
            "Python source defining main(...) (or a single function); its return value (JSON) "
            "is the result."
        ),
    ],
    inputs: Annotated[
        dict[str, Any] | None,
        Doc("Keyword arguments of main; a parameter without an input gets None."),
    ] = None,
    dependencies: Annotated[
        list[str] | None,
        Doc("Pinned packages (name==version), installed once per set into a cached environment."),
    ] = None,
    timeout_seconds: Annotated[
        int, Doc("Wall-clock limit; the script's processes are killed when it passes.")
    ] = 300,
    allow_network: Annotated[bool, Doc("Let the script use the network.")] = False,
    env_vars: Annotated[
        dict[str, str] | None,
        Doc("Environment variables the script sees (nothing of the worker's is passed)."),
    ] = None,
    include_output: Annotated[
        bool, Doc("Return {result, stdout, stderr} instead of main's value alone.")
    ] = False,
) -> Any:
    """Run a Python script's main(**inputs) in an isolated process and return its value."""
    settings = get_settings()
    if len(script) > MAX_SCRIPT_CHARS:
        raise ScriptError(f"script: {len(script):,} characters; at most {MAX_SCRIPT_CHARS:,}")
    if not 1 <= timeout_seconds <= settings.script_max_timeout_seconds:
        raise ScriptError(
            f"timeout_seconds: {timeout_seconds}; give 1 to "
            f"{settings.script_max_timeout_seconds} (KEEL_SCRIPT_MAX_TIMEOUT_SECONDS)"
        )
    for name, value in (env_vars or {}).items():
        if not _ENV_NAME.match(name) or "\0" in value:
            raise ScriptError(
                f"env_vars: '{name[:60]}' is not a usable variable (a name of letters, digits "
                "and _, not starting with a digit; a value without NUL characters)"
            )
    packages: Path | None = None
    if dependencies:
        environment = await ensure_environment(
            Path(settings.home).resolve() / "script-envs", dependencies, interpreter()
        )
        packages = site_packages(environment)
    limits = Limits(
        timeout_seconds=timeout_seconds, memory_bytes=settings.script_memory_mb * 1024 * 1024
    )
    outcome = await run_script(
        script,
        inputs or {},
        limits,
        allow_network=allow_network,
        env_vars=env_vars,
        site_packages=packages,
    )
    if not outcome.ok:
        raise ScriptError(_failure(outcome, limits))
    if include_output:
        return {"result": outcome.result, "stdout": outcome.stdout, "stderr": outcome.stderr}
    return outcome.result


def _failure(outcome: Outcome, limits: Limits) -> str:
    """Return the error message of a failed script: what happened, then the end of stderr."""
    memory = f"{limits.memory_bytes // (1024 * 1024)} MiB"
    if outcome.killed == "timeout":
        text = f"the script exceeded timeout_seconds ({limits.timeout_seconds:g} s) and was killed"
    elif outcome.killed == "cpu":
        text = "the script used up its CPU time and was killed"
    elif outcome.error is not None:
        kind, message = outcome.error.get("type", "Error"), outcome.error.get("message", "")
        text = f"the script raised {kind}: {message}"
        if kind == "MemoryError":
            text += f" (it ran out of memory: the limit is {memory}, KEEL_SCRIPT_MEMORY_MB)"
        trace = outcome.error.get("traceback", "")
        if trace:
            text += "\n" + trace[-_ERROR_STDERR:].rstrip()
    elif outcome.killed is not None:
        text = f"the script was stopped by {outcome.killed} (memory limit {memory})"
    else:
        text = f"the script ended (exit {outcome.exit_code}) without returning a result"
    if outcome.stderr.strip():
        text += "\nstderr:\n" + outcome.stderr[-_ERROR_STDERR:].rstrip()
    return text
