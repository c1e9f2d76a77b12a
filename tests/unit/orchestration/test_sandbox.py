"""The workflow sandbox runs the SDK's glue code compiled once, with the same effect."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from keel.orchestration import sandbox
from keel.orchestration.worker import sandbox_runner
from keel.orchestration.workflow import KeelRun


def test_this_sdk_supports_the_compiled_instance() -> None:
    # False would mean a Temporal release changed the private method the runner overrides:
    # runs would still work, but pay the compilation again.
    assert sandbox.SUPPORTED


def test_keel_workers_run_workflows_through_the_compiled_runner() -> None:
    assert isinstance(sandbox_runner(), sandbox.CompiledSandboxRunner)


async def test_creating_instances_compiles_the_glue_code_once() -> None:
    runner = sandbox_runner()
    definition = workflow._Definition.must_from_class(KeelRun)
    sandbox.compiled.cache_clear()
    # prepare_workflow creates a sandboxed instance of the workflow (as a new run does).
    runner.prepare_workflow(definition)
    first = sandbox.compiled.cache_info()
    runner.prepare_workflow(definition)
    second = sandbox.compiled.cache_info()
    assert first.misses >= 2  # the instance's creation went through the cache
    assert second.misses == first.misses  # and the second creation compiled nothing new
    assert second.hits >= first.hits + 2


def test_compiled_code_behaves_as_the_text() -> None:
    scope: dict[str, object] = {}
    exec(sandbox.compiled("x = 40 + 2\n"), scope)
    assert scope["x"] == 42
    assert sandbox.compiled("x = 1\n") is sandbox.compiled("x = 1\n")


async def test_context_questions_get_the_sdks_answers() -> None:
    from temporalio.api.enums.v1 import CommandType
    from temporalio.worker._command_aware_visitor import CommandInfo
    from temporalio.worker.workflow_sandbox import _runner
    from temporalio.worker.workflow_sandbox._runner import _Instance

    runner = sandbox_runner()
    details = _details(workflow._Definition.must_from_class(KeelRun), _runner._fake_info)
    instance = runner.create_instance(details)
    assert isinstance(instance, sandbox._CompiledInstance)
    command = CommandInfo(CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, 1)
    for info in (None, command):
        ours = instance.get_serialization_context(info)
        assert ours is not None
        assert ours == _Instance.get_serialization_context(instance, info)
        store = instance.get_external_store_context(info)
        assert store == _Instance.get_external_store_context(instance, info)
        assert store.target is not None  # the run's own workflow, not the empty default
    # The flags are back as the SDK leaves them.
    assert not instance.importer.restriction_context.is_runtime
    assert not workflow.unsafe.in_sandbox()


def _details(definition: Any, info: Any) -> Any:
    """The instance details the SDK's prepare_workflow builds (with its fake info)."""
    from temporalio.api.common.v1 import Payloads
    from temporalio.api.failure.v1 import Failure
    from temporalio.converter import DataConverter
    from temporalio.worker import WorkflowInstanceDetails

    return WorkflowInstanceDetails(
        payload_converter_factory=DataConverter.default._new_payload_converter,
        failure_converter_class=DataConverter.default.failure_converter_class,
        interceptor_classes=[],
        defn=definition,
        info=info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )
