"""How a Keel process reaches Temporal: a configured frontend, or the embedded dev server.

Payloads are frozen dataclasses, so Temporal's default JSON data converter is used, with one
addition every Keel client carries: Temporal's external storage with Keel's driver
(:mod:`keel.orchestration.payload_storage`), which keeps payloads above
``KEEL_LARGE_PAYLOAD_BYTES`` in Keel's store instead of the history.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter

from keel.config import Settings
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.payload_storage import external_storage
from keel.orchestration.payload_types import KeelPayloadConverter
from keel.store.blobs import DatabaseBlobs

#: File names of the embedded server's state and log inside ``Settings.home``.
DB_FILE_NAME = "temporal.db"
LOG_FILE_NAME = "temporal.log"


async def connect(settings: Settings, address: str | None = None) -> Client:
    """Connect a client to ``address``, or to ``settings.temporal_address``.

    Args:
        settings: Gives the namespace, and the address when ``address`` is not given.
        address: A ``host:port`` that overrides the configured one (the embedded server's).
    """
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


def data_converter(settings: Settings) -> DataConverter:
    """Return Temporal's default converter with large payloads offloaded to Keel's store.

    Keel's payload dataclasses are decoded by pydantic (:mod:`keel.orchestration.payload_types`).
    """
    storage = external_storage(DatabaseBlobs.from_settings(settings), settings.large_payload_bytes)
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=KeelPayloadConverter,
        external_storage=storage,
    )


#: Temporal's usual ports, used by ``keel up`` when free so the ``temporal`` CLI and browser
#: bookmarks find the server where they expect it.
STANDARD_PORT = 7233
STANDARD_UI_PORT = 8233


def embedded_server(
    settings: Settings, *, ui: bool = False, port: int | None = None
) -> TemporalDevServer:
    """Return (unstarted) the dev server whose state lives under ``settings.home``.

    With ``ui`` (``keel up``), Temporal's standard ports are used when they are free, unless
    ``port`` chooses the frontend's port (the UI then gets any free port).
    """
    home = Path(settings.home)
    standard = ui and port is None
    return TemporalDevServer(
        db_file=home / DB_FILE_NAME,
        log_file=home / "logs" / LOG_FILE_NAME,
        port=port or (STANDARD_PORT if standard and _free(STANDARD_PORT) else None),
        ui=ui,
        ui_port=STANDARD_UI_PORT if standard and _free(STANDARD_UI_PORT) else None,
        namespace=settings.temporal_namespace,
    )


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def open_temporal(
    settings: Settings, *, ui: bool = False
) -> tuple[Client, TemporalDevServer | None]:
    """Return a connected client, starting the embedded server unless an address is configured.

    With ``KEEL_TEMPORAL_ADDRESS`` set, no server is started and the second item is None.
    Otherwise the embedded dev server is started with its state in ``settings.home /
    "temporal.db"``; the caller owns it and must ``await server.stop()`` when done.

    Args:
        settings: The process settings.
        ui: Serve Temporal's Web UI too (``keel up`` wants it; workers and tests do not).
    """
    if settings.temporal_address:
        return await connect(settings), None
    server = embedded_server(settings, ui=ui)
    await server.start()
    try:
        return await connect(settings, server.address), server
    except BaseException:
        await server.stop()
        raise
