"""Set-up shared by the integration tests."""

from __future__ import annotations

import pytest

from tests.integration.action_package import ensure_installed


def pytest_configure(config: pytest.Config) -> None:
    """Install the sample action package before any test builds Keel's registry."""
    ensure_installed()
