"""Reading a workflow document from a request: YAML text, or a JSON object that carries it.

``POST /workflows`` and ``PUT /workflows/{id}/draft`` take either a raw document
(``Content-Type: text/yaml``, ``application/yaml``, ``text/plain``...) or JSON
(``{"yaml": "...", ...}``). Whatever arrives, a bad body is a 4xx JSON error naming the field:
415 for a content type we do not read, 413 beyond :data:`MAX_DOCUMENT_BYTES`, 400 for text that is
not UTF-8 or JSON that does not parse, 422 for JSON of the wrong shape.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import yaml
from fastapi import Request
from pydantic import BaseModel, ValidationError

from keel.api.errors import ApiError
from keel.dsl.model import unwrap_definition
from keel.dsl.yaml_safety import load as load_yaml

M = TypeVar("M", bound=BaseModel)

#: The largest workflow document the API accepts.
MAX_DOCUMENT_BYTES = 1_000_000

YAML_TYPES = frozenset(
    {"text/yaml", "application/yaml", "application/x-yaml", "text/x-yaml", "text/plain"}
)


#: The OpenAPI ``requestBody`` of a route that reads a document this way.
def document_body(model: type[BaseModel]) -> dict[str, Any]:
    """Return ``openapi_extra`` describing a body that is YAML text or ``model`` as JSON."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "text/yaml": {"schema": {"type": "string"}},
            },
        }
    }


async def read_document(request: Request, model: type[M], **fields: Any) -> M:
    """Return the request's document as ``model``.

    Args:
        request: The request.
        model: The JSON shape (with a ``yaml`` field).
        fields: Values for the model's other fields when the body is raw YAML (from the query).

    Raises:
        ApiError: The body cannot be read; the error names the field.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ApiError(413, f"the document is larger than {MAX_DOCUMENT_BYTES} bytes", "body")
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}", "body") from exc
        return _validated(model, data)
    if media in YAML_TYPES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "the document is not UTF-8 text", "body") from exc
        return _validated(model, {"yaml": text, **{k: v for k, v in fields.items() if v}})
    shown = media or "none"
    raise ApiError(
        415,
        f"unsupported Content-Type '{shown}': send the document as text/yaml, or JSON "
        '{"yaml": "..."} as application/json',
        "Content-Type",
    )


def document_title(text: str) -> tuple[str, str]:
    """Return the ``title`` and ``description`` of a document that may be broken ("" if absent)."""
    try:
        data: Any = unwrap_definition(load_yaml(text))
    except (yaml.YAMLError, ValueError, RecursionError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    title, description = data.get("title"), data.get("description")
    return (
        title if isinstance(title, str) else "",
        description if isinstance(description, str) else "",
    )


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors()
        ]
        first = problems[0]
        raise ApiError(
            422, f"{first['field']}: {first['message']}", str(first["field"]), problems=problems
        ) from None
