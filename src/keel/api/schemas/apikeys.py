"""Bodies of the API key endpoints (``/apikeys``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from keel.store.tables import ApiKeyRow


class ApiKeyIn(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="api", min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    """An API key as listed (its secret part is never stored, so never shown)."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyOut:
        """Return the HTTP view of a stored key."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class NewApiKeyOut(BaseModel):
    """A key just created: ``key`` is shown this once."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    key: str = Field(description="The key itself; store it now, it cannot be shown again.")
