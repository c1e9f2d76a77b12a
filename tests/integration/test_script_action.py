"""``core.script.run_python``: real child processes, real limits, a real package install.

Each limit is tested by a script that tries to break it: an infinite loop, a memory bomb, a fork
bomb, reading another run's files and Keel's home, a socket without ``allow_network``. The
dependency test installs ``six==1.16.0`` from the package index this machine reaches, once, and
finds it cached the second time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from keel.actions.builtin.script import ScriptError, run_python
from keel.actions.script.environments import DependencyError, ensure_environment, normalised
from keel.actions.script.sandbox import (
    MAX_OUTPUT_BYTES,
    interpreter,
    isolation,
    namespace_prefix,
)
from keel.config import Settings, get_settings
from keel.execution.local import LocalExecutor
from keel.execution.ray import RayExecutor
from keel.orchestration.client import RunFailedError
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A KEEL_HOME of this test's own (its dependency environments, its secret files)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setattr(get_settings(), "home", folder)
    return folder


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on loopback that accepts connections (what a script must not reach)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                connection.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


async def test_main_gets_inputs_as_keywords_and_returns_json(home: Path) -> None:
    script = (
        "def main(alerts, threshold, note=None):\n    return [a for a in alerts if a > threshold]"
    )
    assert await run_python(script, inputs={"alerts": [1, 5, 9], "threshold": 4}) == [5, 9]


async def test_a_missing_input_is_none_and_an_unknown_one_is_an_error(home: Path) -> None:
    script = "def main(a, b):\n    return [a, b]"
    assert await run_python(script, inputs={"a": 1}) == [1, None]
    with pytest.raises(ScriptError, match=r"inputs c are not parameters of main\(a, b\)"):
        await run_python(script, inputs={"a": 1, "c": 2})


async def test_a_single_function_need_not_be_called_main(home: Path) -> None:
    assert await run_python("def double(x):\n    return x * 2", inputs={"x": 21}) == 42
    with pytest.raises(ScriptError, match="none is named main"):
        await run_python("def a():\n    pass\ndef b():\n    pass")


async def test_output_is_captured_bounded_into_the_result(home: Path) -> None:
    script = (
        "import sys\ndef main():\n    print('hello')\n    sys.stderr.write('e' * 200_000)\n"
        "    return 1"
    )
    done = await run_python(script, include_output=True)
    assert done["result"] == 1 and done["stdout"] == "hello\n"
    assert done["stderr"].startswith("e" * MAX_OUTPUT_BYTES)
    assert done["stderr"].endswith(f"[... {200_000 - MAX_OUTPUT_BYTES:,} more bytes not kept]")


async def test_a_script_that_raises_shows_the_exception_and_bounded_stderr(home: Path) -> None:
    script = (
        "import sys\ndef main():\n    sys.stderr.write('x' * 100_000 + 'last words')\n"
        "    raise ValueError('bad indicator 10.0.0.1')"
    )
    with pytest.raises(ScriptError) as caught:
        await run_python(script)
    message = str(caught.value)
    assert message.startswith("the script raised ValueError: bad indicator 10.0.0.1")
    assert 'File "<script>", line 4, in main' in message
    assert "bootstrap" not in message and "<string>" not in message
    assert message.endswith("x" * 100) is False and "stderr:" in message
    assert len(message) < 10_000  # bounded, however much the script wrote


async def test_a_result_that_is_not_json_is_an_error(home: Path) -> None:
    with pytest.raises(ScriptError, match="main returned a value that is not JSON"):
        await run_python("def main():\n    return {1, 2}")


async def test_an_infinite_loop_is_killed_at_the_timeout(home: Path) -> None:
    with pytest.raises(ScriptError, match=r"exceeded timeout_seconds \(1 s\) and was killed"):
        await run_python("def main():\n    while True:\n        pass", timeout_seconds=1)


async def test_a_sleeping_script_is_killed_at_the_timeout_with_its_processes(home: Path) -> None:
    # Wall clock, not CPU: a script that waits is stopped as well.
    with pytest.raises(ScriptError, match="exceeded timeout_seconds"):
        await run_python("import time\ndef main():\n    time.sleep(600)", timeout_seconds=1)


async def test_a_memory_bomb_hits_the_memory_limit(home: Path) -> None:
    script = "def main():\n    hoard = []\n    while True:\n        hoard.append(bytearray(2**24))"
    with pytest.raises(ScriptError, match=r"raised MemoryError.*ran out of memory.*512 MiB"):
        await run_python(script)


async def test_a_fork_bomb_cannot_start_processes(home: Path) -> None:
    script = "import os\ndef main():\n    while True:\n        os.fork()"
    with pytest.raises(ScriptError, match="may not start processes"):
        await run_python(script)
    script = "import subprocess\ndef main():\n    return subprocess.run(['id']).returncode"
    with pytest.raises(ScriptError, match="may not start processes"):
        await run_python(script)


async def test_a_script_cannot_signal_the_worker(home: Path) -> None:
    script = f"import os\ndef main():\n    os.kill({os.getpid()}, 9)"
    with pytest.raises(ScriptError, match="may not signal processes"):
        await run_python(script)


async def test_a_script_cannot_read_other_runs_files_or_keels_home(home: Path) -> None:
    (home / "secret.key").write_text("the store's key")
    # Another run's private folder, as run_python makes them, with a file in it.
    other = Path(await run_python("import os\ndef main():\n    return os.getcwd()"))
    assert not other.exists()  # a run's folder is deleted when it ends
    other.mkdir(mode=0o700)
    try:
        (other / "result.json").write_text("another run's data")
        for target in (other / "result.json", home / "secret.key", Path("/etc/passwd")):
            with pytest.raises(ScriptError, match=r"may not read .*outside its sandbox"):
                await run_python(f"def main():\n    return open({str(target)!r}).read()")
        with pytest.raises(ScriptError, match=r"may not read .*outside its sandbox"):
            await run_python(
                f"import os\ndef main():\n    return os.listdir({str(other.parent)!r})"
            )
    finally:
        for child in other.iterdir():
            child.unlink()
        other.rmdir()


@pytest.mark.parametrize(
    "call",
    [
        "os.remove(TARGET)",
        "os.rename(TARGET, 'stolen')",
        "os.replace('mine.txt', TARGET)",
        "os.chmod(TARGET, 0o777)",
        "os.truncate(TARGET, 0)",
        "os.mkdir(TARGET + '.d')",
        "shutil.rmtree(os.path.dirname(TARGET))",
        "shutil.copy('mine.txt', TARGET)",
        # A descriptor of an outside folder would let dir_fd reach into it.
        "os.open('planted', os.O_CREAT | os.O_WRONLY, dir_fd=os.open(PARENT, os.O_RDONLY))",
    ],
)
async def test_a_script_cannot_change_files_outside_its_folder(home: Path, call: str) -> None:
    target = home / "keel.db"
    target.write_text("the store")
    script = (
        f"import os, shutil\nTARGET = {str(target)!r}\nPARENT = {str(home)!r}\n"
        f"def main():\n    open('mine.txt', 'w').write('x')\n    {call}"
    )
    with pytest.raises(ScriptError, match=r"may not (change|open the folder|read)"):
        await run_python(script)
    assert target.read_text() == "the store" and sorted(p.name for p in home.iterdir()) == [
        "keel.db"
    ]


async def test_a_script_may_manage_files_in_its_own_folder(home: Path) -> None:
    script = (
        "import os, shutil\ndef main():\n    os.mkdir('d')\n    open('d/a', 'w').write('1')\n"
        "    os.rename('d/a', 'd/b')\n    shutil.copy('d/b', 'd/c')\n    os.chmod('d/c', 0o600)\n"
        "    names = sorted(os.listdir('d'))\n    shutil.rmtree('d')\n"
        "    return [names, os.path.exists('d')]"
    )
    assert await run_python(script) == [["b", "c"], False]


async def test_a_script_has_its_own_folder_home_and_a_scrubbed_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEL_SECRET_KEY", "must never reach a script")
    script = (
        "import os\ndef main():\n    open('scratch.txt', 'w').write('mine')\n"
        "    return {'cwd': os.getcwd(), 'home': os.environ['HOME'], 'env': sorted(os.environ),"
        " 'read': open('scratch.txt').read(), 'token': os.environ.get('TOKEN')}"
    )
    done = await run_python(script, env_vars={"TOKEN": "given"})
    assert done["cwd"] == done["home"] and Path(done["cwd"]).name.startswith("keel-script-")
    assert done["read"] == "mine" and done["token"] == "given"
    assert not any(name.startswith("KEEL_") for name in done["env"])
    second = await run_python(script)
    assert second["cwd"] != done["cwd"]  # a fresh folder per call
    with pytest.raises(ScriptError, match="env_vars: 'A=B' is not a usable variable"):
        await run_python(script, env_vars={"A=B": "x"})


async def test_no_network_without_allow_network(home: Path, listener: int) -> None:
    script = (
        "import socket\ndef main(port):\n"
        "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n    return 'connected'"
    )
    with pytest.raises(ScriptError, match="may not use the network"):
        await run_python(script, inputs={"port": listener})
    assert await run_python(script, inputs={"port": listener}, allow_network=True) == "connected"


async def test_the_isolation_level_is_reported_and_in_effect(home: Path) -> None:
    if os.getuid() == 0 and shutil.which("unshare"):
        assert isolation() == "namespaces"  # root with util-linux: namespaces must work
    pid = await run_python("import os\ndef main():\n    return os.getpid()")
    if isolation() == "namespaces":
        assert pid == 1  # the first process of its own PID (and network) namespace
    else:
        assert pid > 1


async def test_dependencies_are_installed_once_per_set_and_cached(home: Path) -> None:
    script = "import six\ndef main():\n    return [six.__version__, six.__file__]"
    version, where = await run_python(script, dependencies=["six==1.16.0"])
    assert version == "1.16.0" and where.startswith(str(home / "script-envs"))
    built = next((home / "script-envs").glob("*/.complete"))
    stamp = built.stat().st_mtime_ns
    again = await run_python(script, dependencies=["Six==1.16.0"])  # same set, normalised
    assert again == [version, where] and built.stat().st_mtime_ns == stamp
    # Concurrent first uses of a set build it once (a lock per set).
    results = await asyncio.gather(
        *(ensure_environment(home / "other-envs", ["six==1.16.0"], interpreter()) for _ in range(3))
    )
    assert len(set(results)) == 1 and len(list((home / "other-envs").glob("*/.complete"))) == 1


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        (["six"], "'six' is not pinned; write name==version"),
        (["six>=1.0"], "is not pinned"),
        (["six==1.16.0; os_name=='nt'"], "is not pinned"),
        (["--index-url=http://evil/six==1"], "is not pinned"),
    ],
)
def test_dependencies_must_be_pinned(pins: list[str], message: str) -> None:
    with pytest.raises(DependencyError, match=message):
        normalised(pins)


async def test_an_unreachable_index_is_a_clear_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(DependencyError, match="package index is not reachable") as caught:
        await run_python("def main():\n    return 1", dependencies=["six==1.16.0"])
    assert "could not install six==1.16.0" in str(caught.value)
    assert not list((home / "script-envs").glob("*/.complete"))  # nothing half-built is kept


async def test_a_workflow_runs_a_script_on_the_engine(
    home: Path, temporal_client: Client, task_queue: str
) -> None:
    document = """\
title: Score alerts
description: a script between two actions
actions:
  - ref: alerts
    action: core.transform.reshape
    args: {value: [{sev: 2}, {sev: 7}, {sev: 9}]}
  - ref: score
    action: core.script.run_python
    depends_on: [alerts]
    args:
      inputs: {alerts: "${{ ACTIONS.alerts.result }}", cutoff: 5}
      timeout_seconds: 30
      script: |
        def main(alerts, cutoff):
            return sum(1 for a in alerts if a["sev"] > cutoff)
returns: ${{ ACTIONS.score.result }}
"""
    failing = document.replace("return sum", "return 1 / 0 + sum")
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        engine = Engine(temporal_client, task_queue)
        assert await engine.run(document) == 2
        with pytest.raises(RunFailedError, match="ZeroDivisionError"):
            await engine.run(failing)


async def test_a_workflow_runs_a_script_on_ray(
    temporal_client: Client, task_queue: str, ray_cluster: None
) -> None:
    document = """\
title: Script on Ray
description: the sandbox works from a Ray worker process too
actions:
  - ref: score
    action: core.script.run_python
    args:
      inputs: {n: 20}
      script: |
        import os
        def main(n):
            return {"double": n * 2, "pid": os.getpid()}
returns: ${{ ACTIONS.score.result }}
"""
    executor = RayExecutor(Settings(executor="ray"))
    try:
        async with build_worker(temporal_client, task_queue, executor):
            result = await Engine(temporal_client, task_queue).run(document)
    finally:
        await executor.close()
    assert result["double"] == 40
    if isolation() == "namespaces":
        assert result["pid"] == 1  # in its own PID namespace there as well


async def test_the_network_namespace_stops_sockets_below_the_audit_hook(listener: int) -> None:
    # The kernel layer alone (the command Keel wraps the child in), without the Python guard:
    # native code that gets past the audit hook still finds no network.
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener}), timeout=2).close()\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    plain = subprocess.run(
        [interpreter(), "-I", "-S", "-c", probe], capture_output=True, text=True, check=True
    )
    assert plain.stdout.strip() == "connected"
    if isolation() == "namespaces":
        wrapped = subprocess.run(
            [*namespace_prefix(allow_network=False), interpreter(), "-I", "-S", "-c", probe],
            capture_output=True,
            text=True,
            check=True,
        )
        assert wrapped.stdout.startswith("refused")


async def test_threads_are_allowed(home: Path) -> None:
    script = (
        "import threading\ndef main():\n    seen = []\n"
        "    workers = [threading.Thread(target=seen.append, args=(n,)) for n in range(4)]\n"
        "    [w.start() for w in workers]\n    [w.join() for w in workers]\n"
        "    return sorted(seen)"
    )
    assert await run_python(script) == [0, 1, 2, 3]
