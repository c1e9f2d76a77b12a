"""``keel run --vars``: the run's ``VARS`` from a JSON text or a JSON file.

``VARS`` are workspace variables: each one a JSON object of keys, read in expressions as
``VARS.<name>.<key>`` (the service keeps them per environment in its store; a run of a file gets
them from this option). The shape is checked here, so a typo is one clear line before any run
starts, not an expression error in the middle of one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from keel.errors import KeelError

#: The most ``--vars`` may hold, as text: variables are settings, not data.
MAX_VARS_BYTES = 1024 * 1024

#: A variable's name, as expressions can read it (``VARS.<name>``).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def read_variables(raw: str | None) -> dict[str, Any]:
    """Return the ``VARS`` mapping given by ``--vars`` (a JSON text, or ``@file.json``).

    Raises:
        KeelError: The file cannot be read, is too large, is not JSON, or is not an object of
            objects with usable names; the message says which and where.
    """
    if raw is None:
        return {}
    text, where = raw, "--vars"
    if raw.startswith("@"):
        path = Path(raw[1:])
        where = f"--vars {path}"
        try:
            if path.stat().st_size > MAX_VARS_BYTES:
                raise KeelError(f"{where}: larger than {MAX_VARS_BYTES // 1024} KiB")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeelError(f"{where}: cannot read the file: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise KeelError(f"{where}: not UTF-8 text") from exc
    if len(text.encode("utf-8")) > MAX_VARS_BYTES:
        raise KeelError(f"{where}: larger than {MAX_VARS_BYTES // 1024} KiB")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeelError(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise KeelError(f"{where}: nested too deeply") from exc
    return _checked(data, where)


def _checked(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise KeelError(
            f'{where}: expected a JSON object of variables, e.g. {{"slack": {{"channel": '
            f'"#soc"}}}}, not {_kind(data)}'
        )
    for name, value in data.items():
        if not _NAME.match(name):
            raise KeelError(
                f"{where}: variable name '{name[:60]}' cannot be read as VARS.<name>; use "
                "letters, digits and _ (not starting with a digit)"
            )
        if not isinstance(value, dict):
            raise KeelError(
                f"{where}: variable '{name}' must be an object of keys (read as "
                f"VARS.{name}.<key>), not {_kind(value)}"
            )
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else type(value).__name__
    )
