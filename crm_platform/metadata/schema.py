"""JSON Schema validation of a parsed blueprint, with errors people can act on.

jsonschema's own messages ("Additional properties are not allowed ('tittle'
was unexpected)") name schema mechanics; here each error becomes a sentence
about the blueprint ("unknown key 'tittle' in object 'lead'; did you mean
'title'?") placed at the offending key or value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import Diagnostic
from .partial import Spot
from .suggest import did_you_mean
from .yamlpos import Path, YamlDocument

_ALTERNATIVES = ("anyOf", "oneOf")

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}

_ENUM_WORDS = {
    "type": "field type",
    "op": "filter operator",
    "outcome": "outcome",
    "mode": "approval mode",
    "match": "match kind",
    "existing": "existing-record policy",
}


@cache
def packaged_schema(package: str, filename: str) -> dict[str, Any]:
    """A JSON Schema file shipped inside ``package`` (the blueprint's, the scenarios')."""
    return json.loads(resources.files(package).joinpath(filename).read_text("utf-8"))


@cache
def packaged_validator(package: str, filename: str) -> Draft202012Validator:
    """A draft 2020-12 validator for a shipped schema, checked once."""
    schema = packaged_schema(package, filename)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def load_schema() -> dict[str, Any]:
    """The blueprint JSON Schema shipped in this package."""
    return packaged_schema(__package__, "blueprint.schema.json")


def _validator() -> Draft202012Validator:
    return packaged_validator(__package__, "blueprint.schema.json")


def validate_schema(document: YamlDocument) -> list[Diagnostic]:
    """Every schema violation of ``document``, in file order, as plain-words diagnostics."""
    return schema_report(document)[0]


def schema_report(document: YamlDocument) -> tuple[list[Diagnostic], list[Spot]]:
    """:func:`validate_schema`'s diagnostics and the spots they are about (for :func:`.partial.prune`)."""
    diagnostics: list[Diagnostic] = []
    spots: list[Spot] = []
    for error in _validator().iter_errors(document.data):
        diagnostics.extend(_explain(error, document))
        path: Path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {})
            spots.extend(Spot((*path, key), unknown_key=True) for key in error.instance if key not in known)
        else:
            spots.append(Spot(path))
    unique = {(d.position.line, d.position.column, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=lambda d: (d.position.line, d.position.column)), spots


def show(value: Any) -> str:
    """A value as a person would write it in the blueprint."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def describe(path: Path, data: Any) -> str:
    """What the node at ``path`` is, in words ("field 'amount' of 'opportunity'")."""
    match path:
        case ():
            return "the blueprint"
        case ("objects", str(obj)):
            return f"object '{obj}'"
        case ("objects", str(obj), "fields", str(name)):
            return f"field '{name}' of '{obj}'"
        case ("objects", str(obj), "forms", str(name)):
            return f"form '{name}' of '{obj}'"
        case ("objects", str(obj), "forms", str(name), "sections", int(index)):
            return f"section {index + 1} of form '{name}' of '{obj}'"
        case ("objects", str(obj), "list_views", str(name)):
            return f"list view '{name}' of '{obj}'"
        case ("objects", str(obj), "list_views", str(name), "filter", int(index)):
            return f"filter {index + 1} of list view '{name}' of '{obj}'"
        case ("objects", str(obj), "stages", int(index)):
            return f"{_item_name('stage', index, path, data)} of '{obj}'"
        case ("objects", str(obj), "fields", str(name), "choices", str(choice)):
            return f"choice '{choice}' of field '{name}' of '{obj}'"
        case ("approvals", str(name)):
            return f"approval '{name}'"
        case ("approvals", str(name), "steps", int(index)):
            return f"{_item_name('step', index, path, data)} of approval '{name}'"
        case ("approvals", str(name), str(outcome)):
            return f"{outcome} of approval '{name}'"
        case ("templates", str(name)):
            return f"template '{name}'"
        case ("webhooks", str(name)):
            return f"webhook '{name}'"
        case ("assignments", str(name)):
            return f"assignment table '{name}'"
        case ("roles", str(name)):
            return f"role '{name}'"
        case ("rules", int(index)):
            return f"rule {index + 1}"
        case ("objects", str(obj), "actions", str(name)):
            return f"action '{name}' of '{obj}'"
        case ("objects", str(obj), "actions", str(name), "lines"):
            return f"lines of action '{name}' of '{obj}'"
        case ("objects", str(obj), "rollups", str(name)):
            return f"roll-up '{name}' of '{obj}'"
        case ("objects", str(obj), "duplicates"):
            return f"duplicates of '{obj}'"
        case ("objects", str(obj), "duplicates", "keys", int(index)):
            return f"duplicate key {index + 1} of '{obj}'"
        case ("objects", str(obj), "pool"):
            return f"pool of '{obj}'"
        case ("conversions", str(name)):
            return f"conversion '{name}'"
        case ("conversions", str(name), "into"):
            return f"'into' of conversion '{name}'"
        case ("conversions", str(name), "into", str(target)):
            return f"target '{target}' of conversion '{name}'"
        case (*parent, str(key)) if key in ("label", "plural", "help", "subject", "body"):
            return f"{key} of {describe(tuple(parent), data)}"
    return "'" + ".".join(str(p) for p in path) + "'"


def _item_name(kind: str, index: int, path: Path, data: Any) -> str:
    node = _lookup(data, path)
    name = node.get("name") if isinstance(node, dict) else None
    return f"{kind} '{name}'" if isinstance(name, str) else f"{kind} {index + 1}"


def _lookup(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _explain(error: ValidationError, document: YamlDocument) -> Iterator[Diagnostic]:
    path: Path = tuple(error.absolute_path)
    data = document.data
    validator = error.validator
    if validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for key in error.instance:
            if key not in known:
                where = describe(path, data)
                yield Diagnostic(
                    document.key((*path, key)), f"unknown key '{key}' in {where}{did_you_mean(key, known)}"
                )
    elif validator == "required":
        for name in error.validator_value:
            if name not in error.instance:
                yield Diagnostic(document.node(path), f"{describe(path, data)} is missing '{name}'")
    elif validator == "type" and not path:
        yield Diagnostic(
            document.node(path),
            "expected a blueprint (a mapping with blueprint, version and objects), "
            f"got {show(error.instance)}",
        )
    elif validator == "type":
        yield Diagnostic(
            document.node(path), f"expected {_expected(error.validator_value)}, got {show(error.instance)}"
        )
    elif validator == "enum":
        yield Diagnostic(document.node(path), _enum_message(path, error))
    elif validator == "oneOf" and "x-exactly-one" in error.schema:
        # A roll-up names exactly one of sum/count/min/max: say so, not which alternatives failed.
        kinds = ", ".join(error.schema["x-exactly-one"])
        present = [
            k
            for k in error.schema["x-exactly-one"]
            if isinstance(error.instance, dict) and k in error.instance
        ]
        found = f" (found {', '.join(present)})" if present else ""
        yield Diagnostic(document.key(path), f"{describe(path, data)} needs exactly one of {kinds}{found}")
    elif validator in _ALTERNATIVES:
        yield from _explain_alternatives(error, document)
    elif validator in ("minimum", "maximum"):
        bound = "at least" if validator == "minimum" else "at most"
        yield Diagnostic(
            document.node(path), f"expected {bound} {error.validator_value}, got {show(error.instance)}"
        )
    elif validator in ("minItems", "minProperties"):
        yield Diagnostic(document.node(path), f"{describe(path, data)} must not be empty")
    elif validator == "minLength":
        yield Diagnostic(document.node(path), "expected a non-empty string")
    elif validator == "pattern" and path and path[-1] == "url":
        yield Diagnostic(
            document.node(path),
            f"expected a URL starting with http:// or https://, got {show(error.instance)}",
        )
    elif validator == "pattern" and path and path[-1] == "country":
        yield Diagnostic(
            document.node(path),
            f"expected a two-letter ISO country code such as 'CN', got {show(error.instance)}",
        )
    else:
        # Not reached with the shipped schema; still no raw jsonschema text for a user.
        yield Diagnostic(document.node(path), f"{describe(path, data)} is not valid here ({validator})")


def _expected(types: str | list[str]) -> str:
    words = [_TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _enum_message(path: Path, error: ValidationError) -> str:
    options = [str(v) for v in error.validator_value]
    value = error.instance
    what = _ENUM_WORDS.get(str(path[-1]) if path else "", "value")
    if isinstance(value, str):
        hint = did_you_mean(value, options) or f"; expected one of {', '.join(options)}"
        return f"unknown {what} '{value}'{hint}"
    return f"expected one of {', '.join(options)}, got {show(value)}"


def _explain_alternatives(error: ValidationError, document: YamlDocument) -> Iterator[Diagnostic]:
    """Explain an anyOf/oneOf by the alternative the value was evidently meant to be."""
    groups: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        groups.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [errors for errors in groups.values() if not any(_is_type_mismatch(e) for e in errors)]
    if fitting:
        # The value has the shape of these alternatives: the one it misses least explains it best.
        explained = [[d for sub in errors for d in _explain(sub, document)] for errors in fitting]
        yield from min(explained, key=len)
        return
    types: list[str] = []
    for errors in groups.values():
        types.extend(_mismatched_types(errors))
    path: Path = tuple(error.absolute_path)
    yield Diagnostic(document.node(path), f"expected {_expected(types)}, got {show(error.instance)}")


def _is_type_mismatch(error: ValidationError) -> bool:
    if error.relative_path:
        return False
    if error.validator == "type":
        return True
    if error.validator in _ALTERNATIVES:
        groups: dict[int, list[ValidationError]] = {}
        for sub in error.context or ():
            groups.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        return all(any(_is_type_mismatch(e) for e in errors) for errors in groups.values())
    return False


def _mismatched_types(errors: list[ValidationError]) -> list[str]:
    types: list[str] = []
    for error in errors:
        if error.relative_path:
            continue
        if error.validator == "type":
            value = error.validator_value
            types.extend([value] if isinstance(value, str) else value)
        elif error.validator in _ALTERNATIVES:
            types.extend(_mismatched_types(list(error.context or ())))
    return types
