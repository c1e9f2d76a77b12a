"""The garbage collector of a long-running Keel process: what its start built is left alone.

CPython's cycle collector walks every tracked object of the generation it collects. A ``keel
api`` or ``keel worker`` process holds a few hundred thousand objects built once at its start
(FastAPI's and pydantic's schemas, SQLAlchemy's mappings, the Temporal SDK, Keel's own
modules) that live as long as the process; each full (oldest-generation) collection walked all
of them again, and stopped the whole process meanwhile. Measured in a ``keel api`` process
acknowledging 202 webhook deliveries from 8 clients: full collections of 50-170 ms, each
holding every delivery under way (the 202 ack p99 was set by them: bench/RESULTS.md, session 8).

:func:`freeze_startup_heap`, called once the process has built everything it keeps, collects
what its start left as garbage, then moves every object that survives into the collector's
permanent generation (:func:`gc.freeze`), which no collection walks. Objects made later are
collected as before; frozen ones are still freed by reference counting when the last
reference goes (only a reference cycle among frozen objects would stay in memory, and the
start's cycles are collected just before).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect the start's garbage, then exclude every live object from later collections.

    Returns:
        How many objects were frozen (the collector's permanent generation's size).
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("gc: %d objects built at the start frozen out of collections", frozen)
    return frozen
