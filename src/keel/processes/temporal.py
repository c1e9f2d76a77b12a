"""Which Temporal a ``keel api`` or ``keel worker`` process joins, and joining it patiently.

A process joins ``KEEL_TEMPORAL_ADDRESS`` when it is set (production), else the Temporal of the
``keel up`` running in the same state folder (``stack.json``). Processes of a topology start in
any order and Temporal may restart under them, so connecting retries for a while instead of
failing at the first refused connection.
"""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client

from keel.config import Settings
from keel.errors import ConfigError
from keel.orchestration.connection import connect
from keel.orchestration.home import StackInfo

#: Seconds a process keeps trying to reach Temporal at start.
CONNECT_PATIENCE = 60.0


def temporal_address(settings: Settings) -> str:
    """Return the Temporal frontend this process should join.

    Raises:
        ConfigError: Neither ``KEEL_TEMPORAL_ADDRESS`` nor a running ``keel up`` says where.
    """
    if settings.temporal_address:
        return settings.temporal_address
    info = StackInfo.live(settings.home.expanduser().resolve())
    if info is not None:
        return info.address
    raise ConfigError(
        "no Temporal to join: set KEEL_TEMPORAL_ADDRESS, or start `keel up` in this folder "
        f"(KEEL_HOME={settings.home})"
    )


async def connect_patiently(settings: Settings, patience: float = CONNECT_PATIENCE) -> Client:
    """Connect to this process's Temporal, retrying until it answers or ``patience`` runs out.

    Raises:
        ConfigError: Temporal did not answer in time (the message names the address).
    """
    deadline = time.monotonic() + patience
    delay = 0.1
    while True:
        address = temporal_address(settings)  # a restarted keel up may publish a new one
        try:
            return await connect(settings, address)
        except RuntimeError as exc:  # the SDK's "failed client connect"
            if time.monotonic() + delay > deadline:
                raise ConfigError(
                    f"cannot reach Temporal at {address} after {patience:g} s: {exc}"
                ) from None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
