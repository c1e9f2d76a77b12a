"""The secrets an action declares, and how its code reads their values during a call.

An action that needs credentials declares them (``@action(..., secrets=[Secret("virustotal",
keys=["api_key"])])``); a template declares them in its ``secrets:`` list. Before each call, the
worker's activity looks every declared secret up in the run's secrets environment (refusing the
call, by name, when a required secret or key is missing) and hands the values to the executor,
which makes them readable for the duration of the call only::

    from keel import secret

    @action("acme.lookup", secrets=[Secret("acme", keys=["api_key"])])
    def lookup(ip: str) -> dict[str, Any]:
        token = secret("acme", "api_key")

Values travel with the call (to a Ray worker too) and never through Temporal's history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from keel.errors import KeelError

#: The secret values the current action call may read: name -> key -> value.
CURRENT_SECRETS: ContextVar[Mapping[str, Mapping[str, str]] | None] = ContextVar(
    "keel_current_secrets", default=None
)


class SecretNotAvailableError(KeelError):
    """Action code asked for a secret (or key) it did not declare or that is not set."""


@dataclass(frozen=True)
class Secret:
    """A secret an action needs.

    Attributes:
        name: The secret's name (``SECRETS.<name>`` in expressions, ``keel secrets set NAME``).
        keys: Keys the secret must have; a call is refused when one is missing.
        optional_keys: Keys it may have.
        optional: Whether the action also runs when the secret does not exist at all.
    """

    name: str
    keys: tuple[str, ...] = field(default=())
    optional_keys: tuple[str, ...] = field(default=())
    optional: bool = False

    @classmethod
    def parse(cls, value: Secret | str | Mapping[str, Any]) -> Secret:
        """Read a declaration given as a :class:`Secret`, a bare name, or a mapping.

        The mapping form is Tracecat's: ``{name, keys, optional_keys, optional}``.

        Raises:
            ValueError: The mapping lacks a name or has keys of the wrong type.
        """
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return cls(name=value)
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a secret needs a 'name' (text)")
        keys = value.get("keys") or []
        optional_keys = value.get("optional_keys") or []
        if not _texts(keys) or not _texts(optional_keys):
            raise ValueError(f"secret {name!r}: 'keys' and 'optional_keys' must be lists of text")
        return cls(
            name=name,
            keys=tuple(keys),
            optional_keys=tuple(optional_keys),
            optional=bool(value.get("optional", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the declaration as JSON data (for listings)."""
        return {
            "name": self.name,
            "keys": list(self.keys),
            "optional_keys": list(self.optional_keys),
            "optional": self.optional,
        }


def secret(name: str, key: str) -> str:
    """Return the value of key ``key`` of secret ``name``, inside an action call.

    Raises:
        SecretNotAvailableError: Called outside an action call, or the action did not declare
            the secret, or the key is not set (the message names both, never a value).
    """
    values = CURRENT_SECRETS.get()
    if values is None:
        raise SecretNotAvailableError(
            f"secret {name!r} read outside an action call: keel.secret() only works while Keel "
            "runs an action that declares the secret"
        )
    if name not in values:
        raise SecretNotAvailableError(
            f"secret {name!r} is not available to this action: declare it in "
            f"@action(secrets=[Secret({name!r}, keys=[...])]) (or the template's secrets:)"
        )
    value = values[name].get(key)
    if value is None:
        known = ", ".join(sorted(values[name])) or "none"
        raise SecretNotAvailableError(f"secret {name!r} has no key {key!r} (keys set: {known})")
    return value


@contextlib.contextmanager
def secrets_in_use(values: Mapping[str, Mapping[str, str]] | None) -> Iterator[None]:
    """Make ``values`` readable through :func:`secret` inside the ``with`` block."""
    token = CURRENT_SECRETS.set(values or {})
    try:
        yield
    finally:
        CURRENT_SECRETS.reset(token)


def missing_keys(declared: Secret, value: Mapping[str, str]) -> list[str]:
    """Return the required keys of ``declared`` that ``value`` lacks."""
    return [key for key in declared.keys if key not in value]


def merge_declarations(groups: Sequence[Sequence[Secret]]) -> tuple[Secret, ...]:
    """Merge several lists of declarations into one, by name (keys united, optional if all are)."""
    merged: dict[str, Secret] = {}
    for group in groups:
        for item in group:
            known = merged.get(item.name)
            if known is None:
                merged[item.name] = item
                continue
            merged[item.name] = Secret(
                name=item.name,
                keys=tuple(dict.fromkeys([*known.keys, *item.keys])),
                optional_keys=tuple(dict.fromkeys([*known.optional_keys, *item.optional_keys])),
                optional=known.optional and item.optional,
            )
    return tuple(merged.values())


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
