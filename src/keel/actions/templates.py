"""Action templates in Tracecat's format: YAML files that define an action out of other actions.

A template file looks like this (every key of ``definition`` but ``name``, ``namespace`` and
``steps`` is optional)::

    type: action
    definition:
      name: lookup_ip
      namespace: tools.acme
      title: Look up an IP address
      description: Ask ACME's API what it knows about an address.
      display_group: ACME
      secrets:
        - name: acme
          keys: [api_key]
      expects:
        ip: {type: str, description: The address}
        verbose: {type: bool, default: false}
      steps:
        - ref: call
          action: core.http_request
          args:
            url: https://api.acme.example/ip/${{ inputs.ip }}
            headers: {Authorization: "Bearer ${{ SECRETS.acme.api_key }}"}
      returns: ${{ steps.call.result.data }}

It registers ``tools.acme.lookup_ip``. Its arguments are ``expects`` (checked with the same type
language and rules as a workflow's ``entrypoint.expects``: literal arguments at commit time, every
call before it runs); its steps run in order inside one action call (one activity) and read
``inputs.<name>``, ``steps.<ref>.result`` and ``SECRETS.<name>.<key>``; ``returns`` is the call's
result. :func:`load_templates` reads every file under the given folders; a file that fails is
reported with its file and line, and the others still load.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from keel.actions.registry import ActionSpec, LoadProblem, Registry, check_name
from keel.actions.schema import Parameter, Signature, build_model
from keel.actions.secrets import Secret, merge_declarations
from keel.actions.template_runner import TemplateRunner
from keel.dsl.expects import validate_expects
from keel.dsl.model import ExpectedField
from keel.dsl.source import SourceMap, map_source
from keel.dsl.typespec import (
    DictOf,
    EnumOf,
    ListOf,
    Scalar,
    TypeSpec,
    UnionOf,
    mismatches,
    parse_type,
)
from keel.dsl.yaml_safety import BoundedLoader, compose
from keel.errors import RegistryError
from keel.expressions import check as check_expression
from keel.expressions import iter_strings, references
from keel.expressions.limits import current

#: Largest template file read, in bytes (templates are small; this bounds a bad path).
MAX_TEMPLATE_BYTES = 1024 * 1024
_REF = r"^[a-z0-9_]+$"
#: Actions the orchestrator runs itself (child runs, regions): never a template's step.
ORCHESTRATED = frozenset(
    {
        "core.workflow.execute",
        "core.transform.scatter",
        "core.transform.gather",
        "core.loop.start",
        "core.loop.end",
    }
)


class TemplateSecret(BaseModel):
    """A secret a template declares (Tracecat's form).

    Tracecat's OAuth declarations (``type: oauth``, ``provider_id``, ``grant_type``) are read as
    an optional secret named ``<provider_id>_oauth`` (Tracecat's name for the token it keeps):
    Keel runs no OAuth flow, but a token stored under that name is used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["custom", "oauth"] = "custom"
    name: str | None = Field(default=None, min_length=1)
    keys: list[str] = Field(default_factory=list)
    optional_keys: list[str] = Field(default_factory=list)
    optional: bool = False
    provider_id: str | None = None
    grant_type: str | None = None

    @model_validator(mode="after")
    def _named(self) -> TemplateSecret:
        if self.type == "custom" and not self.name:
            raise ValueError("a secret needs a 'name'")
        if self.type == "oauth" and not self.provider_id:
            raise ValueError("an OAuth secret needs a 'provider_id'")
        return self

    def declaration(self) -> Secret:
        """Return the secret as Keel resolves it."""
        if self.type == "oauth":
            return Secret(f"{self.provider_id}_oauth", optional=True)
        return Secret(str(self.name), tuple(self.keys), tuple(self.optional_keys), self.optional)


class TemplateStep(BaseModel):
    """One step of a template: an action call whose arguments may read inputs and steps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str = Field(pattern=_REF)
    action: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class TemplateDefinition(BaseModel):
    """The ``definition`` of a template (Tracecat's keys; ``doc_url`` and ``author`` kept)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_REF)
    namespace: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    display_group: str = ""
    doc_url: str | None = None
    author: str | None = None
    deprecated: str | None = None
    secrets: list[TemplateSecret] = Field(default_factory=list)
    expects: dict[str, ExpectedField] = Field(default_factory=dict)
    steps: list[TemplateStep] = Field(min_length=1)
    returns: Any = None


class TemplateDocument(BaseModel):
    """A template file: ``type: action`` and its definition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    definition: TemplateDefinition


@dataclass
class LoadedTemplate:
    """A template that parsed, waiting for its steps' actions to exist."""

    file: Path
    definition: TemplateDefinition
    source: SourceMap
    problems: list[LoadProblem] = field(default_factory=list)

    @property
    def action_name(self) -> str:
        """Return the registered name: ``<namespace>.<name>``."""
        return f"{self.definition.namespace}.{self.definition.name}"

    def where(self, path: tuple[str | int, ...] = ()) -> str:
        """Return ``file:line`` of a node (the file alone when the line is unknown)."""
        line = self.source.line(path)
        return f"{self.file}:{line}" if line else str(self.file)


def template_files(paths: Iterable[Path]) -> tuple[list[Path], list[LoadProblem]]:
    """Return every template file under ``paths`` (sorted per folder), and missing paths."""
    files: list[Path] = []
    problems: list[LoadProblem] = []
    for path in paths:
        if path.is_dir():
            found = [*path.rglob("*.yml"), *path.rglob("*.yaml")]
            files.extend(sorted(found))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(LoadProblem(str(path), "KEEL_TEMPLATE_PATHS names no file or folder"))
    return files, problems


def load_templates(registry: Registry, paths: Iterable[Path]) -> list[LoadProblem]:
    """Load every template under ``paths`` into ``registry``; return what failed, by file and line.

    Templates may call each other: one is registered once every action its steps call exists
    (in the registry or among the other templates), so the order of files does not matter.
    """
    files, problems = template_files(paths)
    pending: list[LoadedTemplate] = []
    for file in files:
        loaded = parse_template_file(file)
        if isinstance(loaded, LoadProblem):
            problems.append(loaded)
        else:
            pending.append(loaded)
    progress = True
    while pending and progress:
        progress = False
        for template in list(pending):
            if all(step.action in registry for step in template.definition.steps):
                pending.remove(template)
                progress = True
                try:
                    registry.register(build_spec(template, registry))
                except RegistryError as exc:
                    problems.append(LoadProblem(template.where(("definition", "name")), str(exc)))
    for template in pending:
        for index, step in enumerate(template.definition.steps):
            if step.action not in registry:
                where = template.where(("definition", "steps", index, "action"))
                problems.append(
                    LoadProblem(
                        where,
                        f"template {template.action_name}: step '{step.ref}' calls unknown "
                        f"action '{step.action}'",
                    )
                )
                break
    return problems


def parse_template_file(file: Path) -> LoadedTemplate | LoadProblem:
    """Read and check one template file (syntax, schema, expects, expressions, refs)."""
    try:
        if file.stat().st_size > MAX_TEMPLATE_BYTES:
            return LoadProblem(str(file), f"larger than {MAX_TEMPLATE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadProblem(str(file), f"cannot read: {exc}")
    try:
        data, source = _parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        return LoadProblem(f"{file}{line}", f"could not parse YAML: {exc.problem or exc}")
    except yaml.YAMLError as exc:
        return LoadProblem(str(file), f"could not parse YAML: {exc}")
    if not isinstance(data, Mapping) or data.get("type") != "action":
        return LoadProblem(
            f"{file}:{source.line(()) or 1}",
            "not an action template: expected 'type: action' and a 'definition' mapping",
        )
    try:
        document = TemplateDocument.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = tuple(error["loc"])
        number = source.line(path) or source.line(path[:-1]) or source.line(())
        at = ".".join(str(p) for p in path)
        return LoadProblem(f"{file}:{number}", f"{at}: {error['msg']}")
    loaded = LoadedTemplate(file, document.definition, source)
    problem = _check_definition(loaded)
    return problem or loaded


def build_spec(template: LoadedTemplate, registry: Registry) -> ActionSpec:
    """Turn a checked template into an :class:`ActionSpec` whose function runs its steps.

    Raises:
        RegistryError: The name is not a valid action name.
    """
    definition = template.definition
    name = template.action_name
    check_name(name)
    parameters: list[Parameter] = []
    annotations: dict[str, Any] = {}
    for arg, expected in definition.expects.items():
        required = not expected.has_default and not expected.optional
        parameters.append(
            Parameter(
                name=arg,
                annotation_text=expected.type,
                required=required,
                default=None if required else expected.default,
                description=expected.description or "",
            )
        )
        annotations[arg] = _annotation(arg, expected)
    signature = Signature(tuple(parameters), annotations, False, definition.description)
    runner = TemplateRunner(
        name=name,
        steps=[(s.ref, s.action, s.args) for s in definition.steps],
        returns=definition.returns,
        defaults={p.name: p.default for p in parameters if not p.required},
        registry=registry,
    )

    async def run(**inputs: Any) -> Any:
        return await runner.run(inputs)

    run.__qualname__ = run.__name__ = name.replace(".", "_")
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY) for p in parameters]
    )
    return ActionSpec(
        name=name,
        fn=run,
        description=definition.description,
        parameters=signature.parameters,
        is_async=True,
        pure=False,
        accepts_any=False,
        args_model=build_model(name, signature),
        title=definition.title,
        display_group=definition.display_group,
        secrets=merge_declarations([[s.declaration() for s in definition.secrets]]),
        kind="template",
        origin=str(template.file),
        steps=tuple(step.action for step in definition.steps),
    )


def _annotation(arg: str, expected: ExpectedField) -> Any:
    """An ``Any`` that is checked (never converted) against the ``expects`` type."""
    spec = parse_type(expected.type)
    may_be_null = expected.optional or (expected.has_default and expected.default is None)

    def conforms(value: Any) -> Any:
        if value is None and may_be_null:
            return value
        for inner, message in mismatches(spec, value):
            raise ValueError(f"{arg}{inner}: {message}" if inner else message)
        return value

    return Annotated[Any, AfterValidator(conforms), WithJsonSchema(json_schema(spec))]


def json_schema(spec: TypeSpec) -> dict[str, Any]:
    """Return the JSON Schema of an ``expects`` type (for ``GET /actions`` and editors)."""
    if isinstance(spec, Scalar):
        return dict(_SCALAR_SCHEMAS.get(spec.name, {}))
    if isinstance(spec, ListOf):
        return {"type": "array", "items": json_schema(spec.item)}
    if isinstance(spec, DictOf):
        return {"type": "object", "additionalProperties": json_schema(spec.value)}
    if isinstance(spec, UnionOf):
        return {"anyOf": [json_schema(option) for option in spec.options]}
    if isinstance(spec, EnumOf):
        return {"enum": list(spec.values)}
    return {}


_SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "duration": {"type": "string", "description": "a duration, e.g. 5m or PT5M"},
    "None": {"type": "null"},
}


def _check_definition(template: LoadedTemplate) -> LoadProblem | None:
    """Return the first problem of a parsed template: expects, step refs, expressions."""
    definition = template.definition
    for problem in validate_expects(definition.expects):
        # validate_expects locates problems under entrypoint.expects: map to this file's lines.
        parts = (problem.field or "").split(".")
        path: tuple[str | int, ...] = ("definition", "expects", *parts[2:])
        return LoadProblem(template.where(path), problem.message)
    seen: set[str] = set()
    for index, step in enumerate(definition.steps):
        where = template.where(("definition", "steps", index, "ref"))
        if step.ref in seen:
            return LoadProblem(where, f"duplicate step ref '{step.ref}'")
        seen.add(step.ref)
        if step.action in ORCHESTRATED:
            return LoadProblem(
                template.where(("definition", "steps", index, "action")),
                f"step '{step.ref}' calls {step.action}, which the workflow itself runs: a "
                "template's steps run inside one action call; call it from the workflow",
            )
    declared = {s.declaration().name for s in definition.secrets}
    for path, text in _expressions(definition):
        for message in check_expression(text):
            return LoadProblem(template.where(path), message)
        for name in sorted(references(text).secrets - declared):
            return LoadProblem(
                template.where(path),
                f"reads SECRETS.{name} but the template does not declare it: add it to "
                "'secrets' (the activity resolves only declared secrets)",
            )
    return None


def _expressions(definition: TemplateDefinition) -> Iterable[tuple[tuple[str | int, ...], str]]:
    for index, step in enumerate(definition.steps):
        base: tuple[str | int, ...] = ("definition", "steps", index, "args")
        for inner, text in iter_strings(step.args):
            yield (*base, *inner), text
    for inner, text in iter_strings(definition.returns):
        yield ("definition", "returns", *inner), text


def _parse_yaml(text: str) -> tuple[Any, SourceMap]:
    # Keel's bounded safe loader: an alias bomb or too deep nesting is a YAML error naming its line.
    loader = BoundedLoader(text)
    loader.max_alias_nodes = current().yaml_nodes
    try:
        node = compose(loader)
        if node is None:
            return None, SourceMap()
        source, _ = map_source(node)
        return loader.construct_document(node), source
    finally:
        loader.dispose()
