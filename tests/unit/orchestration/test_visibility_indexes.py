"""Which run-list indexes Keel drops from a dev-server store: a hand-made SQLite file per test."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from keel.orchestration.visibility_indexes import (
    drop_unused_slot_indexes,
    slot_indexes,
    unused_slot_indexes,
)

# The shape of Temporal's table and indexes (schema/sqlite/v3/visibility), cut down.
SCHEMA = """
CREATE TABLE executions_visibility (
  namespace_id CHAR(64) NOT NULL,
  run_id CHAR(64) NOT NULL,
  workflow_id VARCHAR(255) NOT NULL,
  close_time TIMESTAMP NULL,
  start_time TIMESTAMP NOT NULL,
  search_attributes TEXT NULL,
  Keyword01 VARCHAR(255) GENERATED ALWAYS AS (JSON_EXTRACT(search_attributes, "$.Keyword01")),
  TemporalInt02 BIGINT GENERATED ALWAYS AS (JSON_EXTRACT(search_attributes, "$.TemporalInt02")),
  TemporalLowCardinalityKeyword01 VARCHAR(255)
    GENERATED ALWAYS AS (JSON_EXTRACT(search_attributes, "$.TemporalLowCardinalityKeyword01")),
  TemporalScheduledById VARCHAR(255)
    GENERATED ALWAYS AS (JSON_EXTRACT(search_attributes, "$.TemporalScheduledById")),
  PRIMARY KEY (namespace_id, run_id)
);
CREATE INDEX default_idx ON executions_visibility
  (namespace_id, (COALESCE(close_time, '9999-12-31')) DESC, start_time DESC, run_id);
CREATE INDEX by_workflow_id ON executions_visibility
  (namespace_id, workflow_id, (COALESCE(close_time, '9999-12-31')) DESC, start_time DESC, run_id);
CREATE INDEX by_temporal_scheduled_by_id ON executions_visibility
  (namespace_id, TemporalScheduledById, (COALESCE(close_time, '9999-12-31')) DESC, run_id);
CREATE INDEX by_keyword_01 ON executions_visibility
  (namespace_id, Keyword01, (COALESCE(close_time, '9999-12-31')) DESC, start_time DESC, run_id);
CREATE INDEX by_temporal_int_02 ON executions_visibility
  (namespace_id, TemporalInt02, (COALESCE(close_time, '9999-12-31')) DESC, run_id);
CREATE INDEX "by low cardinality" ON executions_visibility
  (namespace_id, TemporalLowCardinalityKeyword01, run_id);
INSERT INTO executions_visibility (namespace_id, run_id, workflow_id, start_time, search_attributes)
  VALUES ('ns', 'r1', 'w1', '2026-11-30', '{"BuildIds": ["unversioned"]}'),
         ('ns', 'r2', 'w2', '2026-11-30', NULL);
"""


def connected(path: Path) -> closing[sqlite3.Connection]:
    """An autocommit connection to ``path``, closed when the ``with`` block ends."""
    return closing(sqlite3.connect(path, isolation_level=None))


def store(path: Path, schema: str = SCHEMA) -> Path:
    with connected(path) as connection:
        connection.executescript(schema)
    return path


def indexes(path: Path) -> set[str]:
    with connected(path) as connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        names = {name for (name,) in rows}
    return names


def test_only_the_indexes_of_search_attribute_slots_are_picked(tmp_path: Path) -> None:
    path = store(tmp_path / "t.db")
    with connected(path) as connection:
        picked = slot_indexes(connection)
    assert picked == {
        "by_keyword_01": "Keyword01",
        "by_temporal_int_02": "TemporalInt02",
        "by low cardinality": "TemporalLowCardinalityKeyword01",
    }


def test_dropping_leaves_the_system_indexes_and_every_row(tmp_path: Path) -> None:
    path = store(tmp_path / "t.db")
    assert drop_unused_slot_indexes(path) == 3
    assert indexes(path) == {"default_idx", "by_workflow_id", "by_temporal_scheduled_by_id"}
    with connected(path) as connection:
        count = connection.execute("SELECT count(*) FROM executions_visibility").fetchone()
    assert count == (2,)
    assert drop_unused_slot_indexes(path) == 0  # a trimmed store is left alone


def test_a_slot_a_run_has_a_value_in_keeps_its_index(tmp_path: Path) -> None:
    path = store(tmp_path / "t.db")
    with connected(path) as connection:
        connection.execute(
            'UPDATE executions_visibility SET search_attributes = \'{"Keyword01": "a"}\''
            " WHERE run_id = 'r2'"
        )
        assert set(unused_slot_indexes(connection)) == {"by_temporal_int_02", "by low cardinality"}
    assert drop_unused_slot_indexes(path) == 2
    assert "by_keyword_01" in indexes(path)
    with connected(path) as connection:
        found = connection.execute(
            "SELECT run_id FROM executions_visibility WHERE namespace_id = 'ns' AND Keyword01 = 'a'"
        ).fetchall()
    assert found == [("r2",)]


def test_a_store_without_a_run_list_is_left_alone(tmp_path: Path) -> None:
    path = store(tmp_path / "other.db", "CREATE TABLE t (a, b); CREATE INDEX t_b ON t (a, b);")
    assert drop_unused_slot_indexes(path) == 0
    assert indexes(path) == {"t_b"}


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no such store.db"
    assert drop_unused_slot_indexes(missing) == 0
    assert not missing.exists()


def test_a_store_another_writer_holds_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store(tmp_path / "t.db")
    monkeypatch.setattr("keel.orchestration.visibility_indexes.LOCK_TIMEOUT", 0.05)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        assert drop_unused_slot_indexes(path) == 0
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert "by_keyword_01" in indexes(path)
