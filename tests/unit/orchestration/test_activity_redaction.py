"""The ``keel.run_action`` activity hides the secrets an attempt read from all that leaves it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from temporalio.converter import DataConverter
from temporalio.testing import ActivityEnvironment

from keel.actions.redaction import MARKER
from keel.actions.registry import Registry, action
from keel.execution.local import LocalExecutor
from keel.orchestration.activities import ActionActivities, result_json
from keel.orchestration.payloads import ActionResult, ActionTask, DeferredArg
from keel.orchestration.secrets import FileSecrets

TOKEN = "tok-0123456789-TOPSECRET"
log = logging.getLogger("keel.test.leaky_action")


def registry() -> Registry:
    reg = Registry()

    @action("test.leaky", registry=reg)
    def leaky(token: str, fail: bool = False) -> dict[str, Any]:
        log.warning("using token %s", token)
        if fail:
            raise ValueError(f"the server refused {token}")
        return {"echo": token, token: "as a key", "n": 1}

    return reg


@pytest.fixture
async def activities(tmp_path: Path) -> Any:
    secrets_file = tmp_path / "secrets.yml"
    secrets_file.write_text(f"default:\n  api: {{token: {TOKEN}}}\n")
    executor = LocalExecutor(registry())
    yield ActionActivities(executor, FileSecrets(secrets_file))
    await executor.close()


async def run(activities: ActionActivities, template: str, **args: Any) -> ActionResult:
    task = ActionTask(
        ref="leak",
        action="test.leaky",
        args={"token": None, **args},
        deferred=[DeferredArg(["token"], template)],
    )
    data = await ActivityEnvironment().run(activities.run_action, task)
    # Decoded as the workflow decodes it (the activity returns the dataclass's JSON data).
    converter = DataConverter.default.payload_converter
    [result] = converter.from_payloads(converter.to_payloads([data]), [ActionResult])
    assert isinstance(result, ActionResult)
    return result


async def test_a_result_and_the_logs_hide_the_secret(
    activities: ActionActivities, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        result = await run(activities, "${{ SECRETS.api.token }}")
    assert result.ok
    assert result.result == {"echo": MARKER, MARKER: "as a key", "n": 1}
    assert TOKEN not in caplog.text and f"using token {MARKER}" in caplog.text


async def test_an_error_hides_the_secret(activities: ActionActivities) -> None:
    result = await run(activities, "${{ SECRETS.api.token }}", fail=True)
    assert not result.ok and result.error_type == "ValueError"
    assert result.error_message == f"the server refused {MARKER}"


async def test_an_expression_error_over_a_secret_hides_it(activities: ActionActivities) -> None:
    result = await run(activities, "${{ FN.to_datetime(SECRETS.api.token) }}")
    # FN.to_datetime quotes the text it could not read: here, the secret.
    assert not result.ok and result.error_type == "ExpressionError"
    assert f"got '{MARKER}'" in (result.error_message or "")


async def test_a_missing_secret_still_says_which(activities: ActionActivities) -> None:
    result = await run(activities, "${{ SECRETS.nope.token }}")
    assert result.error_message == "secret 'nope' does not exist in environment 'default'"


@pytest.mark.parametrize(
    "result",
    [
        ActionResult(ok=True, result={"status_code": 200, "headers": {}, "data": [1, "two"]}),
        ActionResult(ok=False, error_type="HttpStatusError", error_message="no", retryable=False),
    ],
)
def test_an_activity_result_is_the_json_of_the_dataclass(result: ActionResult) -> None:
    converter = DataConverter.default.payload_converter
    [ours] = converter.to_payloads([result_json(result)])
    [dataclass_json] = converter.to_payloads([result])
    assert ours == dataclass_json
