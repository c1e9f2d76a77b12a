"""Typed decoding of Keel's payloads by pydantic, instead of the SDK's reflective walk.

Temporal's JSON converter turns a payload into the dataclass a workflow or activity declares
with ``value_to_type``: for every dataclass it decodes it calls ``typing.get_type_hints`` and
walks each field in Python. Inside the workflow sandbox that walk is slow, because the sandbox
replaces ``isinstance`` and ``issubclass`` for every thread with wrappers that unwrap its
proxies (~2 µs a call): decoding one run's :class:`~keel.orchestration.payloads.RunRequest`
made ~330 such calls and was a third of the first workflow task's CPU in the webhook benchmark.

:class:`PayloadTypes` hands the dataclasses of :mod:`keel.orchestration.payloads` to a pydantic
``TypeAdapter`` (built once per class and process; its validation runs in pydantic-core, which
calls no Python builtins). Every other type goes to the SDK's own conversion, unchanged. The
JSON on the wire is the same either way, so histories written before replay unchanged.

Errors stay the SDK's kind: a value that does not fit raises :class:`TypeError` naming the
field, as ``value_to_type`` does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    JSONTypeConverterUnhandled,
)

from keel.orchestration import payloads

#: The classes decoded here: every dataclass :mod:`keel.orchestration.payloads` defines.
PAYLOAD_CLASSES: frozenset[type] = frozenset(
    value
    for value in vars(payloads).values()
    if isinstance(value, type)
    and dataclasses.is_dataclass(value)
    and value.__module__ == payloads.__name__
)

_adapters: dict[type, TypeAdapter[Any]] = {}
_building = threading.Lock()


def _adapter(hint: type) -> TypeAdapter[Any]:
    """Return the (cached) adapter of a payload class; workflow tasks run on several threads."""
    found = _adapters.get(hint)
    if found is None:
        with _building:
            found = _adapters.get(hint)
            if found is None:
                found = _adapters[hint] = TypeAdapter(hint)
    return found


class PayloadTypes(JSONTypeConverter):
    """Decodes Keel's payload dataclasses with pydantic; leaves every other type to the SDK."""

    def to_typed_value(self, hint: type, value: Any) -> Any | JSONTypeConverterUnhandled | None:
        """Return ``value`` as a ``hint`` instance, or ``Unhandled`` for a type not Keel's.

        Raises:
            TypeError: ``value`` does not fit ``hint`` (the message names the fields).
        """
        # A dict lookup, not isinstance(): this runs inside the sandbox (see the module).
        if hint not in PAYLOAD_CLASSES:
            return JSONTypeConverter.Unhandled
        try:
            return _adapter(hint).validate_python(value)
        except ValidationError as exc:
            raise TypeError(_describe(hint, exc)) from None


def _describe(hint: type, exc: ValidationError) -> str:
    """Return a one-line account of what did not fit, field by field (at most five)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '(value)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)[:5]
    ]
    return f"cannot read a {hint.__name__} payload: " + "; ".join(problems)


def _default_converters() -> Mapping[bytes, EncodingPayloadConverter]:
    """Return the SDK's default converters by encoding, the JSON one with :class:`PayloadTypes`."""
    converters = [
        JSONPlainPayloadConverter(custom_type_converters=[PayloadTypes()])
        if type(converter) is JSONPlainPayloadConverter
        else converter
        for converter in DefaultPayloadConverter.default_encoding_payload_converters
    ]
    return MappingProxyType({converter.encoding.encode(): converter for converter in converters})


#: Shared by every :class:`KeelPayloadConverter`: the converters hold no state (their encoder
#: classes and :class:`PayloadTypes`, whose adapters are cached per process).
_CONVERTERS = _default_converters()


class KeelPayloadConverter(CompositePayloadConverter):
    """Temporal's default payload converter, its JSON part decoding Keel's payloads by pydantic.

    The SDK makes a new payload converter whenever it copies the data converter: for each
    workflow instance, and for each serialization context of a start, a result fetch or an
    activation (several per run). Each instance therefore takes the converters built once
    (:data:`_CONVERTERS`) instead of building its own; building them was ~2% of an API
    process's CPU in the webhook benchmark (py-spy ``--gil``).
    """

    def __init__(self) -> None:
        """Use the shared default converters (see the class)."""
        super().__init__()
        self.converters = _CONVERTERS
