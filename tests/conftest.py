"""Fixtures shared by every test: a Temporal dev server, a client, task queues, a local Ray.

The expensive ones are session-scoped and lazy: the dev server starts once, the first time a test
asks for it, and a local Ray likewise; a test that needs neither pays for neither.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.client import Client

from keel.config import Settings
from keel.orchestration.connection import connect
from keel.orchestration.devserver import TemporalDevServer


@pytest.fixture(scope="session")
async def temporal_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TemporalDevServer]:
    """One embedded Temporal dev server for the whole session, state in a temporary SQLite file."""
    folder = tmp_path_factory.mktemp("temporal")
    server = TemporalDevServer(db_file=folder / "temporal.db", log_file=folder / "temporal.log")
    async with server:
        yield server


@pytest.fixture(scope="session")
async def temporal_client(
    temporal_server: TemporalDevServer, tmp_path_factory: pytest.TempPathFactory
) -> Client:
    """A client of the session's dev server, in the ``default`` namespace.

    Built as Keel builds every client: large payloads go to a store (a SQLite file of the
    session's).
    """
    folder = tmp_path_factory.mktemp("keel-store")
    settings = Settings(home=folder, database_url=f"sqlite+aiosqlite:///{folder / 'keel.db'}")
    return await connect(settings, temporal_server.address)


@pytest.fixture
def task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue of this test's own, so workers of other tests never take its tasks."""
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray with 2 CPUs, started once for the session and shut down at its end."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--fail-on-skip``: CI must not pass while a test silently did not run."""
    parser.addoption(
        "--fail-on-skip",
        action="store_true",
        help="Fail the session if any test was skipped (CI uses this: a skip hides a gap).",
    )


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test (for ``--fail-on-skip``)."""
    if report.skipped:
        _SKIPPED.append(f"{report.nodeid}: {report.longrepr}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session under ``--fail-on-skip`` when a test was skipped, naming each one."""
    if session.config.getoption("--fail-on-skip") and _SKIPPED:
        print(
            f"\n--fail-on-skip: {len(_SKIPPED)} test(s) were skipped; CI requires every test to run:"
        )
        for line in _SKIPPED:
            print(f"  SKIPPED {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
