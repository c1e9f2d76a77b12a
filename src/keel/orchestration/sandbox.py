"""Temporal's workflow sandbox, with the glue code it runs around every call compiled once.

The SDK's sandboxed workflow instance reaches the workflow inside the sandbox by ``exec``-ing a
short piece of source text (``with importer.applied(): ...``) for each activation, for the
instance's creation, and for each payload of an activation and its completion (to ask the
workflow which serialization and storage context the payload belongs to: six passes over the
payloads per activation). ``exec`` of a string compiles it first, about 35 µs each time here:
~8% of a ``keel worker``'s Python CPU in the I/O webhook run (py-spy ``--gil``; 4 activations
and ~30 such calls per run). :class:`CompiledSandboxRunner` is the same sandbox with the same
restrictions, whose instances hand ``exec`` that code compiled once (the texts are a handful of
constants). What runs, and with which globals, is unchanged.

It overrides one private method of the SDK (``_Instance._run_code``); should a release drop it,
:data:`SUPPORTED` is false and instances are the SDK's own (tests check that it is true).
"""

from __future__ import annotations

from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

#: Whether this SDK's sandboxed instance runs its glue code through ``_run_code``.
SUPPORTED = callable(getattr(_Instance, "_run_code", None))


@lru_cache(maxsize=64)
def compiled(code: str) -> CodeType:
    """Return ``code`` compiled as ``exec`` would compile it (same file name in tracebacks)."""
    return compile(code, "<string>", "exec")


class _CompiledInstance(_Instance):
    """The SDK's sandboxed instance, handing ``exec`` compiled code instead of source text."""

    def _run_code(self, code: Any, **extra_globals: Any) -> None:
        # The SDK types the code as text, and passes it straight to exec(), which takes both.
        text_or_code = compiled(code) if isinstance(code, str) else code
        super()._run_code(text_or_code, **extra_globals)  # type: ignore[arg-type]


class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """Temporal's sandboxed workflow runner whose instances compile their glue code once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Create the instance as the SDK does, as a :class:`_CompiledInstance` when supported."""
        if not SUPPORTED:
            return super().create_instance(det)
        return _CompiledInstance(det, self.runner_class, self.restrictions)
