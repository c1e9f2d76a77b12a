"""Temporal's workflow sandbox, with less glue around each call into it.

The SDK's sandboxed workflow instance reaches the workflow inside the sandbox by ``exec``-ing a
short piece of source text (``with importer.applied(): ...``) for each activation, for the
instance's creation, and for each payload of an activation and its completion (to ask the
workflow which serialization and storage context the payload belongs to: six passes over the
payloads per activation). ``exec`` of a string compiles it first, about 35 µs each time here:
~8% of a ``keel worker``'s Python CPU in the I/O webhook run (py-spy ``--gil``; 4 activations
and ~30 such calls per run). :class:`CompiledSandboxRunner` is the same sandbox with the same
restrictions, whose instances hand ``exec`` that code compiled once (the texts are a handful of
constants). What runs, and with which globals, is unchanged. The per-payload context
questions also skip the sandbox's import hook, which they do not use (see
:class:`_CompiledInstance`). Figures, alternated old and new: ``bench/RESULTS.md``, "CPU of an
I/O run on the worker".

It overrides private methods of the SDK's ``_Instance``; should a release drop them,
:data:`SUPPORTED` is false and instances are the SDK's own (tests check that it is true, and
that the answers are the SDK's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.converter import SerializationContext, StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance
from temporalio.workflow import unsafe

#: The name the SDK gives the workflow's in-sandbox instance among the sandbox's globals.
_IN_SANDBOX = "__temporal_in_sandbox"

#: Whether this SDK's sandboxed instance has the private pieces this module relies on (its
#: glue code run through ``_run_code``, the flag it sets around it). An instance without its
#: in-sandbox object under :data:`_IN_SANDBOX` answers context questions the SDK's way.
SUPPORTED = callable(getattr(_Instance, "_run_code", None)) and callable(
    getattr(unsafe, "_set_in_sandbox", None)
)


@lru_cache(maxsize=64)
def compiled(code: str) -> CodeType:
    """Return ``code`` compiled as ``exec`` would compile it (same file name in tracebacks)."""
    return compile(code, "<string>", "exec")


class _CompiledInstance(_Instance):
    """The SDK's sandboxed instance, handing ``exec`` compiled code instead of source text.

    The two context questions asked for each payload go straight to the workflow's in-sandbox
    instance (the object the SDK's own code text calls), with the sandbox's runtime flags set
    as the SDK sets them, but without installing the sandbox's import hook around the call:
    the answer is built from the instance's own state (its pending activities and children)
    and imports nothing, and installing and removing the hook seven times per activation was
    ~6% of a worker's Python CPU in the I/O webhook run.
    """

    def _run_code(self, code: Any, **extra_globals: Any) -> None:
        # The SDK types the code as text, and passes it straight to exec(), which takes both.
        text_or_code = compiled(code) if isinstance(code, str) else code
        super()._run_code(text_or_code, **extra_globals)  # type: ignore[arg-type]

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        """Return the serialization context of a payload of ``command_info`` (see the class)."""
        in_sandbox: Any = self.globals_and_locals.get(_IN_SANDBOX)
        if in_sandbox is None:  # not created (yet): the SDK's way
            return super().get_serialization_context(command_info)
        with self._in_runtime():
            context: SerializationContext | None = in_sandbox.get_serialization_context(
                command_info
            )
        return context

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        """Return the external-storage context of a payload of ``command_info``."""
        in_sandbox: Any = self.globals_and_locals.get(_IN_SANDBOX)
        if in_sandbox is None:
            return super().get_external_store_context(command_info)
        with self._in_runtime():
            context: StorageDriverStoreContext = in_sandbox.get_external_store_context(command_info)
        return context

    @contextmanager
    def _in_runtime(self) -> Iterator[None]:
        """Set the flags the SDK sets around a call into the sandbox (``_run_code``'s)."""
        self.importer.restriction_context.is_runtime = True
        unsafe._set_in_sandbox(True)
        try:
            yield
        finally:
            unsafe._set_in_sandbox(False)
            self.importer.restriction_context.is_runtime = False


class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """Temporal's sandboxed workflow runner whose instances compile their glue code once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Create the instance as the SDK does, as a :class:`_CompiledInstance` when supported."""
        if not SUPPORTED:
            return super().create_instance(det)
        return _CompiledInstance(det, self.runner_class, self.restrictions)
