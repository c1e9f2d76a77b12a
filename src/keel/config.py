"""Keel's one settings object.

Every setting comes from here: environment variables prefixed ``KEEL_`` (``KEEL_TEMPORAL_ADDRESS``),
or a ``.env`` file in the working directory. No other module reads ``os.environ``.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from keel.errors import ConfigError
from keel.expressions.limits import Limits, configure

#: ``KEEL_EVENT_LOOP``'s choices (see :mod:`keel.processes.event_loop`).
EventLoop = Literal["auto", "uvloop", "asyncio"]


class Settings(BaseSettings):
    """Settings of a Keel process (CLI, worker, API).

    Attributes:
        home: Folder for the embedded stack's state (Temporal's SQLite file, Keel's database).
        temporal_address: A Temporal frontend to use instead of starting the embedded dev server.
        temporal_namespace: The Temporal namespace runs live in.
        task_queue: The Temporal task queue Keel's workers poll.
        executor: Where action code runs: ``local`` (in-process) or ``ray``.
        ray_address: A Ray cluster to join; empty starts a local Ray.
        ray_num_cpus: CPUs a local Ray may use; None lets Ray count the machine's cores.
        ray_actors: Warm Ray actors that run async actions (each keeps an event loop and
            keep-alive HTTP connections); 0 runs every call as a Ray task of its own.
        database_url: SQLAlchemy URL of Keel's store; empty means a SQLite file in ``home``.
        http_allow_private: Let ``core.http_request`` reach loopback and private addresses.
        http_max_response_bytes: The largest response body an HTTP action reads (after
            decompression); a larger one fails the call.
        secret_key: Key that encrypts secrets at rest: a Fernet key or a long random passphrase.
            Empty generates one at ``<home>/secret.key`` (fine for the embedded stack; production
            must set ``KEEL_SECRET_KEY`` and keep it safe: losing it loses every secret).
        debug: Show tracebacks of internal errors in the CLI.
        secrets_file: A YAML/JSON file of secrets (environment -> name -> key -> value) for
            runs without the service's store.
        api_host: Interface ``keel up`` serves the HTTP API on.
        api_port: Port ``keel up`` serves the HTTP API on.
        api_url: The API the CLI's service commands (``keel apply``, ``keel runs``...) talk to.
        api_key: The API key those commands send (``Authorization: Bearer``).
        api_header_timeout: Seconds a client may take to send a request's headers (counted from
            the connection, or from the first byte of a next request on a kept-alive one).
        api_body_timeout: Seconds a client may take to send a request's body once its headers
            are in; a slower client's connection is closed.
        api_trusted_proxies: Comma-separated addresses/networks of reverse proxies whose
            ``X-Forwarded-For``/``-Proto`` headers are believed; empty (the default) trusts none,
            so webhook IP allowlists see the real peer address.
        large_payload_bytes: Payloads (action results, inputs, run results) bigger than this,
            serialized, are kept in Keel's store instead of Temporal's history, which holds a
            reference (see ``keel.orchestration.payload_storage``). Between 1 KiB and 1 MiB; the
            default, 32 KiB, stays well under 4 MB / 64: many payloads can land in one
            workflow-task completion (64 ``for_each`` items finishing together), and Temporal
            refuses a gRPC message over 4 MB.
        action_modules: Extra Python modules of actions to import, comma-separated
            (``my_actions,acme.tools``), beside the installed packages' ``keel.actions`` entry
            points; for quick local use (the module must be importable, e.g. via PYTHONPATH).
        template_paths: Folders (or files) of action templates in Tracecat's format, separated
            by ``os.pathsep`` (``:``) or commas; every ``*.yml``/``*.yaml`` below them is loaded.
        lambda_work: Work units one ``python_lambda`` call may spend (one per node evaluated or
            item iterated, one per 16 characters or items an operation reads or builds).
        lambda_seconds: Wall-clock seconds one ``python_lambda`` call may run (0: no deadline).
        lambda_action_seconds: Wall-clock seconds all calls of one lambda in one action (one
            per item of ``core.transform.filter``/``map``) may run together (0: no deadline).
        expression_work: Work units one expression evaluation may spend (deterministic: it
            bounds expressions evaluated in workflow code, where a task over 2 s is a deadlock).
        max_value_length: Characters or items of one string or collection user code may build.
        regex_seconds: Wall-clock seconds one ``FN.regex_*`` search may run.
        yaml_alias_nodes: Nodes YAML aliases may add to a document once expanded (workflow
            files, ``FN.deserialize_yaml``).
        script_memory_mb: Address space a ``core.script.run_python`` script may use (MiB).
        script_max_timeout_seconds: The longest ``timeout_seconds`` a script may ask for.
        max_json_depth: The deepest nesting of objects and arrays accepted in any input (webhook
            bodies, API ``inputs``, ``keel run --input``); at most 200, well under the ~490 levels
            where Temporal's JSON converter overflows (see ``keel.triggers.bounds``).
        max_body_bytes: The largest webhook or API request body, in bytes (a webhook's own
            ``max_body_bytes`` may only lower it).
        max_runs_per_request: The most runs one webhook request may start (NDJSON lines); a body
            with more is refused whole, nothing started.
        variables_cache_seconds: How long the API reuses an environment's ``VARS`` read from the
            store before reading them again (0 reads on every run). A change made through this
            process's API is seen at once; one made through another process within this time.
        webhook_cache_seconds: How long an API process reuses a live webhook's target (its
            secret digest, enabled flag, latest version) read from the store; 0 reads it for
            every delivery.
        worker_max_actions: How many actions one worker process runs at once (Temporal's
            activity slots, local and regular each); more wait in Temporal's queue for any
            worker with a free slot. Size it to what one worker's machine can carry.
        worker_nice: How much lower than normal a worker process's CPU priority is (``nice``
            increment, 0-19). On a machine shared with API processes and Temporal, a positive
            value keeps accepting work quick when the workers saturate it; the work waits in
            Temporal, durably.
        event_loop: The event loop of ``keel api`` and ``keel worker`` processes: ``auto``
            (uvloop where it is installed, as it is with Keel on Linux and macOS; asyncio
            otherwise), ``uvloop`` or ``asyncio``.
        outbox_max: The most accepted webhook runs waiting in the outbox for their start in
            Temporal; a plain (202) delivery beyond it is refused with a 503 and Retry-After.
        outbox_lease_seconds: How long an API process keeps the accepted runs it has not started
            yet to itself; once it has run out (the process died), any API process starts them.
        api_orchestration: Whether ``keel api`` processes run a workflow-only worker and start
            the runs their callers wait for (``/wait`` webhooks) eagerly on it; their actions
            still run on the workers. False sends every run to the workers whole.
        api_inline_runs: How many of those eager runs one ``keel api`` process keeps under way
            at once; more callers queue for a place, first come first served (0: no bound).
        api_inline_hold_seconds: How long such a run keeps its place before giving it up to the
            next caller (it is still waited for).
    """

    model_config = SettingsConfigDict(env_prefix="KEEL_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".keel"))
    temporal_address: str = ""
    temporal_namespace: str = "default"
    task_queue: str = "keel"
    executor: Literal["local", "ray"] = "local"
    ray_address: str = ""
    ray_num_cpus: int | None = None
    ray_actors: int = Field(default=2, ge=0, le=64)
    database_url: str = ""
    http_allow_private: bool = False
    http_max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=4 * 1024**3)
    secret_key: str = ""
    secrets_file: str = ""
    debug: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = "http://127.0.0.1:8000"
    api_key: str = ""
    api_header_timeout: float = Field(default=10.0, gt=0, le=3600)
    api_body_timeout: float = Field(default=60.0, gt=0, le=3600)
    api_trusted_proxies: str = ""
    large_payload_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    action_modules: str = ""
    template_paths: str = ""
    lambda_work: int = Field(default=1_000_000, ge=1_000)
    lambda_seconds: float = Field(default=5.0, ge=0)
    lambda_action_seconds: float = Field(default=60.0, ge=0)
    expression_work: int = Field(default=3_000_000, ge=1_000)
    max_value_length: int = Field(default=10_000_000, ge=1_000)
    regex_seconds: float = Field(default=1.0, gt=0)
    yaml_alias_nodes: int = Field(default=100_000, ge=0)
    script_memory_mb: int = Field(default=512, ge=64, le=64 * 1024)
    script_max_timeout_seconds: int = Field(default=3600, ge=1, le=24 * 3600)
    max_json_depth: int = Field(default=64, ge=1, le=200)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_runs_per_request: int = Field(default=100, ge=1, le=10_000)
    variables_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    webhook_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    api_orchestration: bool = True
    api_inline_runs: int = Field(default=16, ge=0, le=10_000)
    api_inline_hold_seconds: float = Field(default=1.0, gt=0, le=60)
    outbox_max: int = Field(default=10_000, ge=1, le=10_000_000)
    outbox_lease_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    worker_max_actions: int = Field(default=100, ge=1, le=10_000)
    worker_nice: int = Field(default=0, ge=0, le=19)
    event_loop: EventLoop = "auto"

    def action_module_names(self) -> list[str]:
        """Return the module names of ``KEEL_ACTION_MODULES``, in order, without blanks."""
        return [name.strip() for name in self.action_modules.split(",") if name.strip()]

    def template_path_list(self) -> list[Path]:
        """Return the paths of ``KEEL_TEMPLATE_PATHS``, absolute (Ray workers start elsewhere)."""
        parts = self.template_paths.replace(",", os.pathsep).split(os.pathsep)
        return [Path(part.strip()).expanduser().absolute() for part in parts if part.strip()]

    def user_code_limits(self) -> Limits:
        """Return the bounds on user code (expressions, lambdas, YAML) these settings give."""
        return Limits(
            lambda_work=self.lambda_work,
            lambda_seconds=self.lambda_seconds,
            lambda_action_seconds=self.lambda_action_seconds,
            expression_work=self.expression_work,
            max_length=self.max_value_length,
            regex_seconds=self.regex_seconds,
            yaml_nodes=self.yaml_alias_nodes,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once.

    Reading them also installs their bounds on user code for the whole process
    (:func:`keel.expressions.limits.configure`): the pure core never reads settings itself.

    Raises:
        ConfigError: A ``KEEL_*`` variable (or ``.env`` entry) has a value Keel cannot use; the
            message names each one and says what is expected.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [
            f"KEEL_{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            f" (got {error['input']!r})"
            for error in exc.errors()
        ]
        raise ConfigError("invalid setting: " + "; ".join(problems)) from None
    configure(settings.user_code_limits())
    return settings


def private_folder(path: Path, *, tighten: bool = False) -> Path:
    """Create the folder ``path`` (and its parents) for this user only (0700).

    Every place that creates the state folder (``KEEL_HOME``), or a folder for Keel's files,
    goes through here, so the store, the key file and Temporal's state are not readable by other
    users; the files Keel creates in it are 0600 too (:func:`private_file`).

    Args:
        path: The folder.
        tighten: Also take group and other access away from a folder that already exists (the
            state folder, made by an older Keel), when this user owns it and it is not a shared
            or personal folder that merely holds Keel's files (sticky like ``/tmp``, the home
            folder, the working folder, ``/``).
    """
    path = path.expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tighten:
        info = path.stat()
        where = path.resolve()
        shared = bool(info.st_mode & stat.S_ISVTX) or where in (
            Path.home().resolve(),
            Path.cwd().resolve(),
            Path(where.anchor),
        )
        if info.st_uid == os.geteuid() and not shared and info.st_mode & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, or tighten it, so only this user reads it (0600).

    SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file, so making
    the database file 0600 before SQLite opens it covers them too. An existing file owned by
    this user loses its group and other bits (stores made before this rule were 0644).
    """
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.fchmod(fd, info.st_mode & 0o700)
    finally:
        os.close(fd)
    return path
