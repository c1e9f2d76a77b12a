"""The bounds on user code are settings, installed for the process when settings are read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keel.config import Settings, get_settings
from keel.errors import ConfigError
from keel.expressions.limits import DEFAULT, Limits, configure, current


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    configure(DEFAULT)


def test_defaults_are_the_pure_cores_defaults() -> None:
    assert Settings().user_code_limits() == DEFAULT


def test_reading_settings_installs_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_LAMBDA_WORK", "5000")
    monkeypatch.setenv("KEEL_LAMBDA_SECONDS", "0")
    monkeypatch.setenv("KEEL_EXPRESSION_WORK", "7000")
    monkeypatch.setenv("KEEL_MAX_VALUE_LENGTH", "9000")
    monkeypatch.setenv("KEEL_REGEX_SECONDS", "0.5")
    monkeypatch.setenv("KEEL_YAML_ALIAS_NODES", "11")
    get_settings()
    assert current() == Limits(
        lambda_work=5000,
        lambda_seconds=0.0,
        expression_work=7000,
        max_length=9000,
        regex_seconds=0.5,
        yaml_nodes=11,
    )


def test_a_bad_bound_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_REGEX_SECONDS", "0")
    with pytest.raises(ConfigError, match="KEEL_REGEX_SECONDS"):
        get_settings()
