"""Keel's tables: SQLAlchemy 2 declarative models, portable across SQLite and PostgreSQL.

Every datetime is timezone-aware in Python and stored in UTC (SQLite keeps no offset, so
:class:`UTCDateTime` converts on the way in and out). JSON goes into ``sqlalchemy.JSON`` columns.
The migration in ``migrations/versions`` is written by hand to match this module; a test compares
the two on both databases.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Names constraints and indexes predictably, so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Return a fresh random identifier such as ``wf_3f9a0c1d2e4b5a69``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def as_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused (their zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no timezone; pass an aware datetime")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every database, returned aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC before it is stored."""
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive; normalise PostgreSQL's value to UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of every Keel table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class WorkflowRow(Base):
    """A workflow: its identity and its mutable draft (committed versions live apart)."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    draft_yaml: Mapped[str] = mapped_column(Text, default="")
    draft_updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowVersionRow(Base):
    """An immutable committed version of a workflow, with its validated definition."""

    __tablename__ = "workflow_versions"

    workflow_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    yaml: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]]
    committed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookRow(Base):
    """The webhook of a workflow: the digest of the secret in its URL, and its settings."""

    __tablename__ = "webhooks"

    workflow_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    #: SHA-256 of the URL's secret, in hex; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"WebhookRow(workflow_id={self.workflow_id!r}, enabled={self.enabled!r})"


class ScheduleRow(Base):
    """A schedule of a workflow; mirrored to a Temporal Schedule with the same id."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    spec: Mapped[dict[str, Any]]
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SecretRow(Base):
    """A secret of an environment: its key names in clear, its values encrypted together."""

    __tablename__ = "secrets"

    environment: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    keys: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"SecretRow(environment={self.environment!r}, name={self.name!r}, keys={self.keys!r})"
        )


class VariableRow(Base):
    """A variable of an environment (``VARS.<name>``): a JSON mapping of plain values."""

    __tablename__ = "variables"

    environment: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    values: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKeyRow(Base):
    """An API key: a public prefix to find it by and a SHA-256 hash of the whole key."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ApiKeyRow(id={self.id!r}, name={self.name!r}, prefix={self.prefix!r})"


class RunRow(Base):
    """A summary of one run for fast listing; Temporal's history holds its steps.

    ``workflow_id`` has no foreign key on purpose: a run's summary outlives its workflow, and ad
    hoc runs (``keel run file.yaml``) may name no stored workflow at all.
    """

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_started_at_execution_id", "started_at", "execution_id"),
        Index("ix_runs_workflow_id_started_at", "workflow_id", "started_at"),
        Index("ix_runs_status_started_at", "status", "started_at"),
        UniqueConstraint("workflow_id", "idempotency_key"),
    )

    execution_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    workflow_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    trigger_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    parent_execution_id: Mapped[str | None] = mapped_column(String(255), index=True)
    parent_action: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)


class BlobRow(Base):
    """A payload too large for Temporal's history, stored by its SHA-256 (zlib-compressed).

    Written and read by ``keel.orchestration.payload_storage.KeelStoreDriver`` through
    ``keel.store.blobs.DatabaseBlobs``; ``stored_at`` is refreshed whenever the same payload is
    written again (for a future clean-up of blobs whose runs are gone).
    """

    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SeenKeyRow(Base):
    """A key ``core.transform.deduplicate``/``is_duplicate`` saw, remembered until ``expires_at``.

    ``scope`` is the workflow, ``digest`` the SHA-256 of the item's key values, ``owner`` the call
    that recorded it (run, action, item), so a retried attempt is not told it saw its own keys.
    """

    __tablename__ = "seen_keys"
    __table_args__ = (Index("ix_seen_keys_scope_expires_at", "scope", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[datetime]


class OutboxRow(Base):
    """A run that was accepted (its 202 sent) and is not yet known to be started in Temporal.

    Written in the same transaction as the run's summary row (status ``queued``) and deleted
    once the run has started, so an accepted run is never lost between the answer and the
    start (the transactional outbox; see ``keel.api.outbox``). It holds what the start needs
    and nothing secret: ``VARS`` and secrets are resolved when the run starts and runs.

    ``claimed_by``/``claimed_until`` are a lease: the API process that accepted the run (or
    later swept it up) starts it; once the lease has run out, any API process may take it over.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_claimed_until", "claimed_until"),)

    execution_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    trigger_type: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[Any] = mapped_column(JSON, nullable=True)
    environment: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
