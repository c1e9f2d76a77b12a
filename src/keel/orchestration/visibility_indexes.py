"""The embedded dev server's run list, without the indexes of search attributes nobody defined.

Temporal's SQLite schema keeps every run's visibility record (what ``temporal workflow list``
and the Temporal UI read) in one table, ``executions_visibility``, with an index per column a
list can filter on: 59 of them. 35 of those index the *pre-allocated slots* for custom search
attributes (``Keyword01``-``Keyword10``, ``Int01``-``Int03``, ``Bool01``-``Bool03``, ...,
``TemporalKeyword01``, ...): columns that stay empty until someone registers a search attribute
(``temporal operator search-attribute create``), which Keel never does. Every run still pays
for them: its visibility record is written when it starts and again when it closes, and each
write moves an entry in every index (the close time is part of every index's key). On the dev
server, whose store is one SQLite connection shared by everything a run does (see
:mod:`keel.orchestration.devserver`), those writes were a short run's slowest store operations.

Measured here (raw eager runs of a 3-transform workflow, 8 clients, 2,500 runs on a fresh store
per variant, 3 rounds alternated): server CPU per run 8.8-9.9 -> 7.8-8.5 ms, a visibility write
12.1-12.8 -> 6.8-7.3 ms, the store (with its ~40 MB log) 102 -> 73 MB. Without them the server's
cost per run also stops rising as the store grows (4 x 1,000 runs: 9.7 -> 10.6 ms with them,
8.3-8.6 without). One visibility insert alone, timed in SQLite: 2.3 -> 0.9 ms.

:func:`drop_unused_slot_indexes` drops them, and only them, when Keel starts its dev server; a
slot that a run already has a value in (a search attribute someone registered and used) keeps
its index. An index never changes what a query answers: a list filtered on a custom search
attribute registered on the embedded server later still answers correctly, by reading the
namespace's rows instead of an index (fine at a dev server's size). The indexes of the system
attributes (workflow id and type, status, task queue, parents, schedules, batch jobs,
deployments), the full-text tables and the table itself are left as Temporal made them. The
CLI sets a store's schema up once, when it creates the file (Temporal's documentation warns
that a ``--db-filename`` file may not suit a newer CLI, rather than promising a migration), so
no later schema step of its own expects the dropped indexes.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

#: The visibility table of Temporal's SQL schema.
TABLE = "executions_visibility"

#: Columns that are slots for custom search attributes (``Keyword01``, ``TemporalInt02``,
#: ``TemporalLowCardinalityKeyword01``, ...), as opposed to the system attributes' columns.
SLOT_COLUMN = re.compile(r"(Temporal)?(Bool|Datetime|Double|Int|Keyword|LowCardinalityKeyword)\d\d")

#: Seconds to wait for the server's connection to let go of the write lock, per index.
LOCK_TIMEOUT = 10.0


def _quoted(name: str) -> str:
    """Return ``name`` as an SQL identifier (names read from the store, quoted as SQL says)."""
    return '"' + name.replace('"', '""') + '"'


def slot_indexes(connection: sqlite3.Connection) -> dict[str, str]:
    """Return the visibility table's indexes that lead with a slot column: name -> column.

    Every index of that table starts with the namespace id, then the column it is for; an index
    is a slot's when that column is one (:data:`SLOT_COLUMN`). Returns ``{}`` when the store has
    no visibility table (not a Temporal SQL store).
    """
    found = {}
    for _, name, _, origin, _ in connection.execute(f"PRAGMA index_list({TABLE})"):
        if origin != "c":  # the primary key's own index ("pk") or a UNIQUE constraint's ("u")
            continue
        columns = [row[2] for row in connection.execute(f"PRAGMA index_info({_quoted(name)})")]
        if len(columns) > 1 and columns[1] is not None and SLOT_COLUMN.fullmatch(columns[1]):
            found[name] = columns[1]
    return found


def unused_slot_indexes(connection: sqlite3.Connection) -> list[str]:
    """Return the slot indexes whose column no run of the store has a value in.

    A slot someone registered a search attribute for, and set on a run, keeps its index. Each
    check stops at the first run with a value, so a kept slot costs little at later starts; an
    unused one is read through once, at the start that drops its index.
    """
    unused = []
    for name, column in slot_indexes(connection).items():
        (taken,) = connection.execute(
            f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE {_quoted(column)} IS NOT NULL)"
        ).fetchone()
        if not taken:
            unused.append(name)
    return unused


def drop_unused_slot_indexes(db_file: Path) -> int:
    """Drop the slot indexes of the dev server store at ``db_file``; return how many it dropped.

    Safe while the server runs: each drop is its own short transaction, and the server's
    connection waits for the lock as for any writer (queries it has prepared are prepared again
    on the new schema). Idempotent: a store without them is left alone. A failure is logged
    and leaves the indexes not dropped yet as they were: they only cost time.
    """
    # mode=rw: never create a store that is not there.
    uri = db_file.resolve().as_uri() + "?mode=rw"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        log.warning("cannot open the Temporal store %s to trim its indexes: %s", db_file, exc)
        return 0
    dropped = 0
    try:
        for name in unused_slot_indexes(connection):
            connection.execute(f"DROP INDEX IF EXISTS {_quoted(name)}")
            dropped += 1
    except sqlite3.Error as exc:
        log.warning("left the Temporal store's other run-list indexes as they were: %s", exc)
    finally:
        connection.close()
    if dropped:
        log.debug("dropped %d unused search-attribute indexes from %s", dropped, db_file)
    return dropped
