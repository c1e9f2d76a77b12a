"""compose.yaml, the documented production example: it parses and names the topology's parts.

Docker is not needed: when a Docker engine is there, ``docker compose config`` checks the file
too; without one, the parse below is the whole check (nothing is skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from keel.orchestration.devserver import QUEUE_READER_KEYS, QUEUE_READER_RPS

COMPOSE = Path(__file__).parents[3] / "compose.yaml"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_names_the_services_of_the_topology() -> None:
    services = load()["services"]
    assert set(services) == {"postgresql", "temporal", "keel-api", "keel-worker"}
    assert services["keel-api"]["command"][0] == "api"
    assert services["keel-worker"]["command"] == ["worker"]
    assert services["keel-worker"]["deploy"]["replicas"] >= 2


def test_keel_services_reach_temporal_and_postgresql_by_service_name() -> None:
    services = load()["services"]
    for name in ("keel-api", "keel-worker"):
        environment = services[name]["environment"]
        assert environment["KEEL_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert "@postgresql:5432/" in environment["KEEL_DATABASE_URL"]
        assert environment["KEEL_SECRET_KEY"].startswith("${KEEL_SECRET_KEY:?")
    # Proxy headers are trusted from nobody unless the operator names the proxy.
    assert services["keel-api"]["environment"]["KEEL_API_TRUSTED_PROXIES"] == ""


def compose_command() -> list[str] | None:
    """Return ``docker compose`` when the Docker CLI has its compose plugin, else None."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    version = subprocess.run(
        [docker, "compose", "version"], capture_output=True, timeout=30, check=False
    )
    return [docker, "compose"] if version.returncode == 0 else None


def test_docker_compose_accepts_the_file_when_docker_is_installed() -> None:
    compose = compose_command()
    if compose is None:  # the parse above is the check on a machine without Docker Compose
        assert load()["name"] == "keel"
        return
    done = subprocess.run(
        [*compose, "-f", str(COMPOSE), "config", "--quiet"],
        env={**os.environ, "KEEL_SECRET_KEY": "x" * 43},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_temporal_gets_the_settings_keel_gives_its_own_dev_server() -> None:
    temporal = load()["services"]["temporal"]
    target = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    (mount,) = [v for v in temporal["volumes"] if v.split(":")[1] == target]
    config = yaml.safe_load((COMPOSE.parent / mount.split(":")[0]).read_text())
    for key in QUEUE_READER_KEYS:
        assert config[key] == [{"value": QUEUE_READER_RPS}]
    assert config["system.enableEagerWorkflowStart"] == [{"value": True}]
