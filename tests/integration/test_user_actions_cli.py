"""User actions as a user sets them up: KEEL_ACTION_MODULES, KEEL_TEMPLATE_PATHS, `keel run`.

Real ``keel`` processes against the session's dev server, on the local executor and on a local
Ray the process starts itself (``KEEL_EXECUTOR=ray``), so the Ray workers find the module, the
template and the installed package the way a deployment's would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keel.orchestration.devserver import TemporalDevServer

pytestmark = pytest.mark.integration

MODULE = '''
from typing import Annotated

from keel import Doc, action


@action("local.text.shout", title="Shout")
def shout(text: Annotated[str, Doc("What to shout")]) -> str:
    """Return the text in capitals."""
    return text.upper() + "!"
'''

BROKEN_MODULE = "import not_a_module_anywhere\n"

TEMPLATE = """
type: action
definition:
  name: greet_loudly
  namespace: tools.sample
  title: Greet loudly
  description: Greets with the sample package, shouts with a local module.
  display_group: Sample
  secrets:
    - name: sample_intel
      keys: [api_key]
  expects:
    name: {type: str, description: Who to greet}
  steps:
    - ref: greet
      action: sample.greetings.greet
      args: {name: "${{ inputs.name }}", punctuation: "."}
    - ref: shout
      action: local.text.shout
      args: {text: "${{ steps.greet.result }}"}
    - ref: lookup
      action: sample.intel.lookup
      args: {ip: 192.0.2.7}
  returns:
    text: ${{ steps.shout.result }}
    authorized: ${{ steps.lookup.result.authorized }}
    key_seen: ${{ FN.length(SECRETS.sample_intel.api_key) }}
"""

BROKEN_TEMPLATE = """
type: action
definition:
  name: broken
  namespace: tools.sample
  steps:
    - ref: one
      action: core.transform.reshape
      args: {value: "${{ inputs. }}"}
"""

FLOW = """
title: user actions
description: a template built from a package action and a module action
actions:
  - ref: hello
    action: tools.sample.greet_loudly
    args: {name: Ada}
returns: ${{ ACTIONS.hello.result }}
"""


def keel(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli.main", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def setup(temporal_server: TemporalDevServer, task_queue: str, tmp_path: Path) -> dict[str, str]:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "my_local_actions.py").write_text(textwrap.dedent(MODULE))
    (modules / "my_broken_actions.py").write_text(BROKEN_MODULE)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "greet_loudly.yml").write_text(TEMPLATE)
    (templates / "broken.yml").write_text(BROKEN_TEMPLATE)
    (tmp_path / "flow.yml").write_text(FLOW)
    (tmp_path / "secrets.yml").write_text("default: {sample_intel: {api_key: s3cret}}\n")
    pythonpath = os.pathsep.join([str(modules), os.environ.get("PYTHONPATH", "")])
    return {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HOME": str(tmp_path / "home"),
        "KEEL_ACTION_MODULES": "my_local_actions, my_broken_actions",
        "KEEL_TEMPLATE_PATHS": str(templates),
        "KEEL_SECRETS_FILE": str(tmp_path / "secrets.yml"),
        "PYTHONPATH": pythonpath,
    }


EXPECTED = {"text": "HELLO, ADA.!", "authorized": True, "key_seen": 6}


def assert_load_problems_reported(stderr: str) -> None:
    assert "module my_broken_actions (KEEL_ACTION_MODULES)" in stderr
    assert "ModuleNotFoundError" in stderr and "not_a_module_anywhere" in stderr
    assert "broken.yml:9" in stderr


def test_a_template_of_package_and_module_actions_runs_locally(
    setup: dict[str, str], tmp_path: Path
) -> None:
    done = keel("run", "flow.yml", "--json", env=setup, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EXPECTED
    # The broken module and template are reported; they did not stop the others.
    assert_load_problems_reported(done.stderr)


def test_the_same_runs_on_ray(setup: dict[str, str], tmp_path: Path) -> None:
    env = {**setup, "KEEL_EXECUTOR": "ray", "KEEL_RAY_NUM_CPUS": "1"}
    done = keel("run", "flow.yml", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EXPECTED


def test_validate_checks_template_arguments_at_commit(
    setup: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "bad.yml").write_text(FLOW.replace("{name: Ada}", "{name: {first: Ada}}"))
    done = keel("validate", "bad.yml", env=setup, cwd=tmp_path)
    assert done.returncode == 1
    assert "argument 'name' must be str, got a mapping (tools.sample.greet_loudly)" in done.stdout


def test_actions_list_and_show(setup: dict[str, str], tmp_path: Path) -> None:
    listed = keel("actions", "list", env={**setup, "COLUMNS": "80"}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows["tools.sample.greet_loudly"] == "template"
    assert rows["local.text.shout"] == "python"
    assert rows["sample.greetings.greet"] == "python"
    assert rows["core.http_request"] == "python"
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    assert_load_problems_reported(listed.stderr)

    shown = keel("actions", "show", "tools.sample.greet_loudly", "--json", env=setup, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["kind"] == "template"
    assert detail["arguments"] == [
        {
            "name": "name",
            "type": "str",
            "required": True,
            "default": None,
            "description": "Who to greet",
        }
    ]
    assert detail["args_schema"]["properties"]["name"]["type"] == "string"
    assert detail["secrets"][0]["name"] == "sample_intel"

    text = keel("actions", "show", "local.text.shout", env=setup, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "text" in text.stdout and "str" in text.stdout and "What to shout" in text.stdout

    unknown = keel("actions", "show", "core.cases.create_case", env=setup, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "a Tracecat action Keel does not offer" in " ".join(unknown.stderr.split())
