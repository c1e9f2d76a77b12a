"""The settings object: bad values are a clear error naming the variable, never a traceback."""

from __future__ import annotations

import pytest

from keel.config import Settings, get_settings
from keel.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    get_settings.cache_clear()


def test_bad_values_name_each_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_EXECUTOR", "spark")
    monkeypatch.setenv("KEEL_LARGE_PAYLOAD_BYTES", "12")
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert "KEEL_EXECUTOR: Input should be 'local' or 'ray' (got 'spark')" in message
    assert "KEEL_LARGE_PAYLOAD_BYTES: Input should be greater than or equal to 1024" in message
    get_settings.cache_clear()


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_LARGE_PAYLOAD_BYTES", "65536")
    assert get_settings().large_payload_bytes == 65536
    assert Settings(large_payload_bytes=2048).large_payload_bytes == 2048
    get_settings.cache_clear()
