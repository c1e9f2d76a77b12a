"""Variables per environment, and the ``VARS`` mapping a run reads."""

from __future__ import annotations

import pytest

from keel.errors import NotFoundError
from keel.store import variables
from keel.store.database import Database

pytestmark = pytest.mark.integration


async def test_variables_per_environment(db: Database) -> None:
    async with db.session() as s:
        await variables.set_variable(s, "slack", {"channel": "#soc", "n": 3})
        await variables.set_variable(s, "slack", {"channel": "#prod"}, environment="prod")
        await variables.set_variable(s, "limits", {"max": [1, 2]})
    async with db.session() as s:
        row = await variables.get_variable(s, "slack")
        assert row.values == {"channel": "#soc", "n": 3}
        assert await variables.variables_mapping(s) == {
            "limits": {"max": [1, 2]},
            "slack": {"channel": "#soc", "n": 3},
        }
        assert await variables.variables_mapping(s, "prod") == {"slack": {"channel": "#prod"}}
        await variables.set_variable(s, "slack", {"channel": "#new"})
        assert (await variables.get_variable(s, "slack")).values == {"channel": "#new"}
        assert len(await variables.list_variables(s)) == 3
        await variables.delete_variable(s, "slack", environment="prod")
        with pytest.raises(NotFoundError, match="variable 'prod/slack' not found"):
            await variables.get_variable(s, "slack", environment="prod")
