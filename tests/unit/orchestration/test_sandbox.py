"""The workflow sandbox runs the SDK's glue code compiled once, with the same effect."""

from __future__ import annotations

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
