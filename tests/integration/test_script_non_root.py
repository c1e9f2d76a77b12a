"""``core.script.run_python`` when Keel does not run as root.

As root, Keel wraps a script in new PID, mount and network namespaces; as any other user it adds
``--map-root-user`` (an unprivileged user namespace around the rest), and where that is refused,
or ``unshare`` is missing, the script runs as a plain process with the bootstrap's guards alone.
CI runs as root, so these tests start a driver process as uid 65534 (``nobody``) inside a user
namespace (``unshare --user --map-user``) and let it run scripts through ``run_python``: once with
``unshare`` on its ``PATH`` (the namespaced path) and once without (the plain-process path). Run
by another user, the driver starts as that user directly.

What this cannot show: the kernel's process-count limit (``RLIMIT_NPROC``) for a real non-root
user. The simulated user is still root outside its namespace, and root's processes are exempt from
that limit in every namespace; the fork bomb below is stopped by the bootstrap's guard.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

#: The simulated user (``nobody`` on Debian).
NOBODY = 65534

#: Runs scripts through run_python and prints what each returned or the error it raised.
DRIVER = textwrap.dedent(
    """
    import asyncio, json, os, sys

    from keel.actions.builtin.script import ScriptError, run_python
    from keel.actions.script.sandbox import isolation

    SECRET = sys.argv[1]
    SCRIPTS = {
        "pid": "import os\\ndef main():\\n    return os.getpid()",
        "sum": "def main(a, b):\\n    return a + b",
        "fork": "import os\\ndef main():\\n    while True:\\n        os.fork()",
        "kill": f"import os\\ndef main():\\n    os.kill({os.getpid()}, 9)",
        "network": (
            "import socket\\ndef main():\\n"
            "    socket.create_connection(('127.0.0.1', 9), timeout=1)"
        ),
        "read": f"def main():\\n    return open({SECRET!r}).read()",
        "loop": "def main():\\n    while True:\\n        pass",
    }

    async def main():
        seen = {"uid": os.getuid(), "isolation": isolation()}
        for name, script in SCRIPTS.items():
            inputs = {"a": 2, "b": 3} if name == "sum" else None
            try:
                seen[name] = await run_python(script, inputs=inputs, timeout_seconds=3)
            except ScriptError as exc:
                seen[name] = "ScriptError: " + str(exc)
        print(json.dumps(seen))

    asyncio.run(main())
    """
)


def run_as_non_root(tmp_path: Path, *, with_unshare: bool) -> dict[str, Any]:
    """Run :data:`DRIVER` as a user other than root; return what it printed."""
    home = tmp_path / "home"
    home.mkdir()
    secret = home / "secret.key"
    secret.write_text("the store's key")
    tools = tmp_path / "bin"  # the driver's PATH: unshare in it, or not
    tools.mkdir()
    unshare = shutil.which("unshare")
    if with_unshare:
        assert unshare is not None, "util-linux's unshare is needed for this test"
        (tools / "unshare").symlink_to(unshare)
    env = {
        "PATH": str(tools),
        "HOME": str(home),
        "KEEL_HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    command = [sys.executable, "-c", DRIVER, str(secret)]
    if os.getuid() == 0:
        assert unshare is not None, "util-linux's unshare is needed to leave root"
        user = [unshare, "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--"]
        command = [*user, *command]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def assert_guarded(seen: dict[str, Any]) -> None:
    """Assert the guarantees every isolation level gives (as the root tests check them)."""
    assert seen["uid"] != 0
    assert seen["sum"] == 5
    assert "may not start processes" in seen["fork"]
    assert "may not signal processes" in seen["kill"]
    assert "may not use the network" in seen["network"]
    assert "outside its sandbox" in seen["read"]
    assert "exceeded timeout_seconds (3 s) and was killed" in seen["loop"]


async def test_as_a_user_with_user_namespaces_scripts_get_their_own_namespaces(
    tmp_path: Path,
) -> None:
    seen = run_as_non_root(tmp_path, with_unshare=True)
    assert_guarded(seen)
    if os.getuid() == 0:
        # Nested user namespaces are allowed where root may create one (this machine).
        assert seen["isolation"] == "namespaces"
    if seen["isolation"] == "namespaces":
        assert seen["pid"] == 1  # the first process of its own PID namespace
    else:
        assert seen["pid"] > 1


async def test_without_unshare_scripts_run_as_plain_guarded_processes(tmp_path: Path) -> None:
    seen = run_as_non_root(tmp_path, with_unshare=False)
    assert seen["isolation"] == "process"
    assert seen["pid"] > 1
    assert_guarded(seen)
