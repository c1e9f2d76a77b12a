"""Where activities read ``SECRETS`` from: a small provider protocol and a file-backed provider.

Secrets are resolved only inside activities, never in the workflow, so they never reach Temporal's
history. The service (issue "service") adds a store-backed provider with encryption at rest; the
embedded default reads a YAML/JSON file named by ``KEEL_SECRETS_FILE``::

    default:                 # environment
      intel: {api_key: s3cr3t}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from keel.dsl.yaml_safety import load as load_yaml
from keel.errors import ConfigError


class SecretsProvider(Protocol):
    """Looks secrets up by name in an environment."""

    async def get(self, name: str, environment: str) -> Mapping[str, str] | None:
        """Return secret ``name``'s key/value pairs in ``environment``, or ``None``."""
        ...


class NoSecrets:
    """A provider with no secrets at all (every lookup misses)."""

    async def get(self, name: str, environment: str) -> Mapping[str, str] | None:
        """Return ``None``: there are no secrets."""
        return None


class FileSecrets:
    """Secrets read from a YAML or JSON file mapping environment -> name -> key -> value."""

    def __init__(self, path: Path) -> None:
        try:
            data: Any = load_yaml(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the secrets file {path}: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ConfigError(
                f"the secrets file {path} must map environment -> secret name -> key -> value"
            )
        self._data: dict[str, dict[str, Any]] = data

    async def get(self, name: str, environment: str) -> Mapping[str, str] | None:
        """Return the secret's keys from the file, or ``None`` when it is not there."""
        secret = self._data.get(environment, {}).get(name)
        return {str(k): str(v) for k, v in secret.items()} if isinstance(secret, dict) else None
