"""Declared secrets and keel.secret(): what an action may read during a call."""

from __future__ import annotations

import pytest

from keel import secret
from keel.actions.secrets import (
    Secret,
    SecretNotAvailableError,
    merge_declarations,
    missing_keys,
    secrets_in_use,
)


def test_secret_reads_the_values_of_the_call_only() -> None:
    with pytest.raises(SecretNotAvailableError, match="outside an action call"):
        secret("acme", "api_key")
    with secrets_in_use({"acme": {"api_key": "v"}}):
        assert secret("acme", "api_key") == "v"
        with pytest.raises(SecretNotAvailableError, match="is not available to this action"):
            secret("other", "api_key")
        with pytest.raises(SecretNotAvailableError, match="has no key 'token'") as info:
            secret("acme", "token")
        assert "'v'" not in str(info.value)  # names keys, never values
    with pytest.raises(SecretNotAvailableError):
        secret("acme", "api_key")


def test_declarations_parse_in_every_form() -> None:
    assert Secret.parse("acme") == Secret("acme")
    assert Secret.parse({"name": "acme", "keys": ["a"], "optional_keys": ["b"]}) == Secret(
        "acme", ("a",), ("b",)
    )
    with pytest.raises(ValueError, match="needs a 'name'"):
        Secret.parse({"keys": ["a"]})
    with pytest.raises(ValueError, match="lists of text"):
        Secret.parse({"name": "x", "keys": "a"})


def test_missing_keys_and_merging() -> None:
    assert missing_keys(Secret("a", ("k", "j")), {"k": "1"}) == ["j"]
    merged = merge_declarations(
        [[Secret("a", ("k",), optional=True)], [Secret("a", ("j",)), Secret("b", optional=True)]]
    )
    assert merged == (Secret("a", ("k", "j"), optional=False), Secret("b", optional=True))
