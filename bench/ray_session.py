"""The local Ray of the Ray scenario, owned by the benchmark so that it stops last."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.config import Settings


class RaySession:
    """A local Ray this benchmark starts itself (once, for the Ray scenario) and stops last.

    ``RayExecutor`` would start Ray with the same arguments (see ``keel.execution.ray``) and
    shut it down at ``close()``; starting it here instead moves ``ray.shutdown`` to the very
    end, after the dev server has stopped, because Ray resets SIGTERM to its default while it
    shuts down (a SIGTERM then would kill this process before its clean-up).

    Args:
        after_start: Called once Ray is up: ``ray.init`` installs its own SIGTERM handler.
    """

    def __init__(self, after_start: Callable[[], None] | None = None) -> None:
        self.after_start = after_start
        self.started = False

    def start(self, settings: Settings) -> None:
        """Start a local Ray as ``RayExecutor.start`` would, unless one is up."""
        import ray

        if ray.is_initialized():
            return
        self.started = True
        ray.init(
            num_cpus=settings.ray_num_cpus,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
            configure_logging=False,
        )
        if self.after_start is not None:
            self.after_start()

    def stop(self) -> None:
        """Shut Ray down if this session started it."""
        if self.started:
            import ray

            self.started = False
            ray.shutdown()
