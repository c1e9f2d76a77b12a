"""Bodies of the secret and variable endpoints (``/secrets``, ``/variables``).

Secret values go in and never come out: every response names the keys only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: A name usable in expressions (``SECRETS.<name>.<key>``, ``VARS.<name>.<key>``).
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,199}$"

#: An environment name.
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"


class SecretIn(BaseModel):
    """A new secret."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Read as SECRETS.<name>.<key>.")
    values: dict[str, str] = Field(min_length=1, description="Key/value pairs; never returned.")


class SecretValuesIn(BaseModel):
    """The new values of a secret (they replace all of the old ones)."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, str] = Field(min_length=1, description="Key/value pairs; never returned.")


class SecretOut(BaseModel):
    """A secret as the API shows it: its key names, never its values."""

    name: str
    environment: str
    keys: list[str]
    created_at: datetime
    updated_at: datetime


class VariableIn(BaseModel):
    """A new variable."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Read as VARS.<name>.<key>.")
    values: dict[str, Any] = Field(description="Key/value pairs (JSON values).")


class VariableValuesIn(BaseModel):
    """The new values of a variable (they replace all of the old ones)."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any]


class VariableOut(BaseModel):
    """A variable (not secret: its values are shown)."""

    name: str
    environment: str
    values: dict[str, Any]
    created_at: datetime
    updated_at: datetime
