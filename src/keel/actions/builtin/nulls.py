"""``core.transform.drop_nulls``: the items of a list that are not null (Tracecat's action)."""

from __future__ import annotations

from typing import Annotated, Any

from keel.actions.registry import action
from keel.actions.schema import Doc


@action("core.transform.drop_nulls", title="Drop nulls", pure=True)
def drop_nulls(items: Annotated[list[Any], Doc("The list to clean.")]) -> list[Any]:
    """Return the items that are not null, in order (empty strings, 0 and false are kept)."""
    return [item for item in items if item is not None]
