"""The action registry: registration, lookup, schemas, argument validation and signatures."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

import pytest

from keel.actions.registry import ActionSpec, Registry, action, default_registry
from keel.actions.schema import Doc
from keel.dsl.catalog import ActionCatalog, ActionSignature
from keel.errors import ActionArgumentError, RegistryError


@pytest.fixture
def registry() -> Registry:
    reg = Registry()

    @action("test.lookup", registry=reg)
    def lookup(
        url: Annotated[str, Doc("The URL to look up.")],
        retries: int = 3,
        tags: list[str] | None = None,
        mode: Literal["fast", "slow"] = "fast",
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Look a URL up.

        A longer explanation that is not part of the description.
        """
        return {"url": url, "retries": retries, "tags": tags, "mode": mode, "timeout": timeout}

    @action("test.any", registry=reg, description="Takes anything.", pure=True)
    def anything(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, **extra}

    return reg


def test_register_returns_the_function_unchanged(registry: Registry) -> None:
    spec = registry.get("test.lookup")
    assert spec.fn(url="u")["retries"] == 3
    assert spec.description == "Look a URL up."
    assert not spec.is_async
    assert not spec.pure
    assert not spec.accepts_any


def test_parameters_are_read_from_the_signature(registry: Registry) -> None:
    params = {p.name: p for p in registry.get("test.lookup").parameters}
    assert list(params) == ["url", "retries", "tags", "mode", "timeout"]
    assert params["url"].required
    assert params["url"].description == "The URL to look up."
    assert params["url"].annotation_text == "str"
    assert params["retries"].default == 3
    assert not params["retries"].required
    assert params["tags"].annotation_text == "list[str] | None"
    assert params["mode"].annotation_text == "Literal['fast', 'slow']"


def test_descriptions_come_from_the_docstring_when_not_annotated() -> None:
    reg = Registry()

    @action("test.documented", registry=reg)
    def documented(items: list[Any], limit: int = 5) -> list[Any]:
        """Take the first items.

        Args:
            items: The items to cut,
                possibly many.
            limit (int): How many to keep.

        Returns:
            The first items.
        """
        return items[:limit]

    params = {p.name: p.description for p in reg.get("test.documented").parameters}
    assert params == {"items": "The items to cut, possibly many.", "limit": "How many to keep."}


def test_args_schema_is_json_schema(registry: Registry) -> None:
    schema = registry.get("test.lookup").args_schema()
    assert schema["title"] == "test.lookup"
    assert schema["required"] == ["url"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["url"] == {"description": "The URL to look up.", "title": "Url", "type": "string"}
    assert props["retries"]["default"] == 3
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert registry.get("test.any").args_schema()["additionalProperties"] is True


def test_parameters_named_like_basemodel_attributes() -> None:
    reg = Registry()

    @action("test.shadow", registry=reg)
    def shadow(json: dict[str, Any], schema: str = "", model_name: str = "") -> str:
        return schema

    spec = reg.get("test.shadow")
    assert set(spec.args_schema()["properties"]) == {"json", "schema", "model_name"}
    assert spec.validate_args({"json": {"a": 1}, "model_name": "m"}) == {
        "json": {"a": 1},
        "model_name": "m",
    }


def test_validate_args_returns_the_given_arguments(registry: Registry) -> None:
    spec = registry.get("test.lookup")
    assert spec.validate_args({"url": "u", "tags": ["a"]}) == {"url": "u", "tags": ["a"]}


def test_validate_args_is_lax_for_json_data(registry: Registry) -> None:
    # Lax mode, documented: numeric strings become numbers, ints become floats.
    args = registry.get("test.lookup").validate_args({"url": "u", "retries": "4", "timeout": 3})
    assert args == {"url": "u", "retries": 4, "timeout": 3.0}
    assert isinstance(args["timeout"], float)


def test_validate_args_names_every_bad_argument(registry: Registry) -> None:
    with pytest.raises(ActionArgumentError) as caught:
        registry.get("test.lookup").validate_args(
            {"urll": "u", "retries": "many", "tags": ["a", 1], "mode": "medium", "bogus": 1}
        )
    error = caught.value
    assert error.action == "test.lookup"
    text = "\n".join(error.problems)
    assert len(error.problems) == 6, text
    assert "unknown argument 'urll' (did you mean 'url'?)" in text
    assert "unknown argument 'bogus' (accepted: url, retries, tags, mode, timeout)" in text
    assert "missing required argument 'url' (str)" in text
    assert "argument 'retries' must be int, got str of length 4" in text
    assert "argument 'mode' must be Literal['fast', 'slow'], got str of length 6" in text
    assert "argument 'tags' must be list[str] | None, got list of 2 item(s)" in text
    assert str(error).startswith("bad arguments for test.lookup: ")


def test_a_bad_argument_s_value_never_appears_in_its_error(registry: Registry) -> None:
    # The value may be a secret (an API key passed where a number belongs), and the error
    # travels to history, events and API answers: the error names types, never values.
    secret = "sk-live-TOPSECRET-0123456789"
    with pytest.raises(ActionArgumentError) as caught:
        registry.get("test.lookup").validate_args(
            {
                "url": "u",
                "retries": secret,
                "tags": [secret, 1],
                "mode": secret,
                "timeout": [secret],
            }
        )
    assert "TOPSECRET" not in str(caught.value)
    assert len(caught.value.problems) == 4


def test_nested_type_errors_say_where() -> None:
    reg = Registry()

    @action("test.nested", registry=reg)
    def nested(items: list[int]) -> int:
        return sum(items)

    with pytest.raises(ActionArgumentError, match=re.escape("(at items[1]: Input should be")):
        reg.get("test.nested").validate_args({"items": [1, "x"]})


def test_kwargs_actions_accept_unknown_arguments(registry: Registry) -> None:
    spec = registry.get("test.any")
    assert spec.accepts_any and spec.pure
    assert spec.validate_args({"name": "n", "color": "red"}) == {"name": "n", "color": "red"}
    with pytest.raises(ActionArgumentError, match="missing required argument 'name'"):
        spec.validate_args({"color": "red"})


def test_async_actions() -> None:
    reg = Registry()

    @action("test.wait", registry=reg)
    async def wait(seconds: float = 0.0) -> str:
        await asyncio.sleep(seconds)
        return "done"

    spec = reg.get("test.wait")
    assert spec.is_async
    assert asyncio.run(spec.fn(**spec.validate_args({"seconds": 0}))) == "done"


def test_duplicate_names_are_refused(registry: Registry) -> None:
    with pytest.raises(RegistryError, match=re.escape("'test.lookup' is already registered")):

        @action("test.lookup", registry=registry)
        def again() -> None: ...


@pytest.mark.parametrize("name", ["lookup", "Test.Lookup", "test..x", "test.x-y", ".x", "x."])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid action name"):
        action(name, registry=Registry())(lambda: None)


def test_positional_only_parameters_are_refused() -> None:
    def positional(a: int, /) -> int:
        return a

    with pytest.raises(RegistryError, match="keyword arguments only"):
        action("test.positional", registry=Registry())(positional)


def test_unknown_names_suggest_the_closest(registry: Registry) -> None:
    with pytest.raises(RegistryError, match=re.escape("did you mean 'test.lookup'?")):
        registry.get("test.lookpu")
    with pytest.raises(RegistryError, match=r"unknown action 'nothing\.like\.it'$"):
        registry.get("nothing.like.it")
    assert registry.find("test.lookpu") is None


def test_registry_lookup(registry: Registry) -> None:
    assert registry.names() == ["test.any", "test.lookup"]
    assert [s.name for s in registry.specs()] == ["test.any", "test.lookup"]
    assert "test.any" in registry
    assert "test.nope" not in registry
    assert isinstance(registry.find("test.any"), ActionSpec)


def test_registry_is_an_action_catalog(registry: Registry) -> None:
    catalog: ActionCatalog = registry
    assert catalog.signature("test.lookup") == ActionSignature(
        name="test.lookup",
        required=frozenset({"url"}),
        optional=frozenset({"retries", "tags", "mode", "timeout"}),
        accepts_any=False,
    )
    assert catalog.signature("test.any") == ActionSignature(
        "test.any", frozenset({"name"}), frozenset(), accepts_any=True
    )
    assert catalog.signature("test.missing") is None


SPEC_CORE_ACTIONS = {
    "core.transform.reshape": ({"value"}, set()),
    "core.transform.filter": ({"items", "python_lambda"}, set()),
    "core.transform.map": ({"items", "python_lambda"}, set()),
    "core.transform.apply": ({"value", "python_lambda"}, set()),
    "core.transform.is_in": ({"items", "collection"}, {"python_lambda"}),
    "core.transform.not_in": ({"items", "collection"}, {"python_lambda"}),
    "core.transform.deduplicate": ({"items", "keys"}, {"expire_seconds", "persist"}),
    "core.transform.is_duplicate": ({"item", "keys"}, {"expire_seconds"}),
    "core.transform.flatten_json": ({"json"}, set()),
    "core.transform.eval_jsonpaths": ({"json", "jsonpaths"}, set()),
    "core.http_request": (
        {"url"},
        {
            "method", "headers", "params", "payload", "content", "form_data", "files", "auth",
            "timeout", "follow_redirects", "max_redirects", "ignore_status_codes", "verify_ssl",
            "base64_encode_data",
        },
    ),
    "core.workflow.execute": (
        set(),
        {
            "workflow_alias", "workflow_id", "trigger_inputs", "environment", "timeout",
            "version", "wait_strategy", "loop_strategy", "batch_size", "fail_strategy", "inherit",
        },
    ),
    **{
        f"core.text.extract_{kind}": ({"texts"}, set())
        for kind in (
            "urls", "domains", "emails", "ipv4", "ipv6", "ip", "mac", "md5", "sha1", "sha256",
            "sha512", "cves", "asns",
        )
    },
}  # fmt: skip


def test_default_registry_has_every_core_action_of_the_spec() -> None:
    registry = default_registry()
    assert registry is default_registry()
    for name, (required, optional) in SPEC_CORE_ACTIONS.items():
        signature = registry.signature(name)
        assert signature is not None, name
        assert (signature.required, signature.optional) == (required, optional), name
    assert "core.http_poll" in registry


def test_core_defaults_match_the_spec() -> None:
    registry = default_registry()

    def defaults(name: str) -> dict[str, Any]:
        return {p.name: p.default for p in registry.get(name).parameters if not p.required}

    assert defaults("core.transform.deduplicate") == {"expire_seconds": 3600, "persist": True}
    assert defaults("core.transform.is_duplicate") == {"expire_seconds": 3600}
    http = defaults("core.http_request")
    assert (http["method"], http["timeout"], http["follow_redirects"]) == ("GET", 10.0, False)
    assert (http["max_redirects"], http["verify_ssl"], http["base64_encode_data"]) == (
        20,
        True,
        False,
    )
    execute = defaults("core.workflow.execute")
    assert (execute["wait_strategy"], execute["loop_strategy"]) == ("wait", "batch")
    assert (execute["batch_size"], execute["fail_strategy"], execute["inherit"]) == (
        32,
        "isolated",
        False,
    )


def test_pure_core_actions() -> None:
    pure = {s.name for s in default_registry().specs() if s.pure}
    assert {
        "core.transform.reshape", "core.transform.filter", "core.transform.map",
        "core.transform.apply", "core.transform.is_in", "core.transform.not_in",
        "core.transform.flatten_json", "core.transform.eval_jsonpaths",
    } <= pure  # fmt: skip
    assert not pure & {
        "core.transform.deduplicate", "core.transform.is_duplicate", "core.http_request",
        "core.http_poll", "core.workflow.execute",
    }  # fmt: skip


def test_every_core_action_has_a_schema_and_descriptions() -> None:
    for spec in default_registry().specs():
        schema = spec.args_schema()
        assert schema["title"] == spec.name
        assert spec.description, spec.name


def test_core_workflow_execute_checks_its_strategies() -> None:
    spec = default_registry().get("core.workflow.execute")
    assert spec.is_async
    with pytest.raises(ActionArgumentError, match="wait_strategy"):
        spec.validate_args({"workflow_alias": "child", "wait_strategy": "later"})
    assert spec.validate_args({"workflow_alias": "c", "inherit": ["TRIGGER"]})["inherit"] == [
        "TRIGGER"
    ]


def test_core_workflow_execute_is_a_signature_only() -> None:
    # The orchestrator runs child workflows itself; the function is never meant to be called.
    spec = default_registry().get("core.workflow.execute")
    with pytest.raises(NotImplementedError, match="handled by the orchestrator"):
        asyncio.run(spec.fn(workflow_alias="child"))
