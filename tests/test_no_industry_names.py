"""The platform's code names no object or field of a shipped blueprint: it reads them from the metadata.

Every string constant in ``crm_platform/**/*.py`` (``crm_platform/demo/`` excepted: demo
data is b2b on purpose) is compared with the names the shipped blueprints declare:

- every object name (``contact`` excepted: it is a keyword of the rule language,
  ``email contact``);
- every field name that is not also a platform name. Platform names are computed,
  not listed: the columns of the platform's own tables (``crm_*`` tables of
  ``build_tables``: users, tasks, approvals, history, ...), the system columns every
  record has (``SYSTEM_COLUMNS``), the keywords of the rule grammar, and the words of
  the two formats the platform speaks: its blueprint format (the property names and
  enumerated values of ``blueprint.schema.json``, field types included) and the
  OpenAPI 3.0 document it publishes (the property names and enumerated values of the
  OpenAPI 3.0 meta-schema: ``description``, ``tags``, ``number`` ...), and the members of
  the API's error body (``{"error": {"code", "message", "fields"}}``).

Docstrings are skipped (examples may name a shipped field). A hit prints as
``file:line: 'name'`` so it can be fixed where it is.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from lark.lexer import PatternStr

from crm_platform.cli import build_parser
from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import SYSTEM_COLUMNS
from crm_platform.rules.parser import _lark
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web.api.openapi.common import ERROR_SCHEMA
from tests.support.paths import ROOT

ROOT = ROOT
PLATFORM = ROOT / "crm_platform"
BLUEPRINTS = ROOT / "blueprints"
#: Object names that are also words of the platform itself.
KEYWORD_OBJECTS = frozenset({"contact"})


def _blueprint_files() -> list[Path]:
    return sorted(p for p in BLUEPRINTS.glob("*.yaml") if not p.name.endswith(".scenarios.yaml"))


@functools.cache
def _declared() -> tuple[frozenset[str], frozenset[str]]:
    """(object names, field names) declared by any shipped blueprint (read as YAML)."""
    objects: set[str] = set()
    fields: set[str] = set()
    for path in _blueprint_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, spec in (data.get("objects") or {}).items():
            objects.add(str(name))
            fields.update(str(f) for f in ((spec or {}).get("fields") or {}))
    return frozenset(objects), frozenset(fields)


@functools.cache
def _platform_names() -> frozenset[str]:
    """Column names of the platform's own tables, the system columns and the rule keywords."""
    names: set[str] = set(SYSTEM_COLUMNS)
    # The platform tables do not depend on the blueprint; any shipped one builds them.
    tables = build_tables(load_blueprint(BLUEPRINTS / "b2b_sales.yaml"))
    for table in tables.metadata.tables.values():
        if table.name.startswith("crm_"):
            names.update(column.name for column in table.columns)
    for terminal in _lark().terminals:
        if isinstance(terminal.pattern, PatternStr):
            names.add(terminal.pattern.value)
    return frozenset(names | _format_words() | _command_words())


def _command_words() -> set[str]:
    """The names of the ``crm`` command's sub-commands (``crm report`` ...), its public surface."""
    words: set[str] = set()
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            words.update(action.choices)
    return words


def _schema_words(schema: Any) -> set[str]:
    """Property names and enumerated strings of a JSON Schema document, at any depth."""
    words: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                words.update(k for k in value if k.isidentifier())
            elif key == "enum" and isinstance(value, list):
                words.update(v for v in value if isinstance(v, str))
            elif key in ("const", "type") and isinstance(value, str):
                words.add(value)
            words |= _schema_words(value)
    elif isinstance(schema, list):
        for item in schema:
            words |= _schema_words(item)
    return words


def _format_words() -> set[str]:
    blueprint_schema = json.loads((PLATFORM / "metadata" / "blueprint.schema.json").read_text("utf-8"))
    openapi = files("openapi_spec_validator") / "resources" / "schemas" / "v3.0" / "schema.json"
    words = _schema_words(blueprint_schema) | _schema_words(json.loads(openapi.read_text("utf-8")))
    return words | _schema_words(ERROR_SCHEMA)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of the module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _dict_keys(tree: ast.AST) -> set[int]:
    """ids of the constant keys of every dict display."""
    return {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys if key}


def _platform_files() -> list[Path]:
    demo = PLATFORM / "demo"
    return sorted(p for p in PLATFORM.rglob("*.py") if demo not in p.parents)


def industry_hits() -> list[str]:
    """``file:line: 'name'`` for each string constant of platform code that is a shipped name."""
    objects, fields = _declared()
    forbidden = (objects - KEYWORD_OBJECTS) | (fields - _platform_names())
    hits: list[str] = []
    for path in _platform_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # Docstrings may give examples; dict keys are the platform's own vocabulary (the
        # ``amount`` role of FieldRoles, a member of the work API's JSON), never a field read.
        skipped = _docstrings(tree) | _dict_keys(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in forbidden
                and id(node) not in skipped
            ):
                hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return hits


def test_the_forbidden_names_are_the_shipped_blueprints_own() -> None:
    # Guards the test below against reading nothing (a moved folder, an empty YAML).
    objects, fields = _declared()
    platform = _platform_names()
    assert {"opportunity", "lead", "ticket"} <= objects
    assert "amount" in fields and "amount" not in platform
    # Platform words stay allowed although blueprints use them as field names too.
    assert {"owner_id", "status", "stage", "email", "name"} <= platform


def test_platform_code_names_no_object_or_field_of_a_shipped_blueprint() -> None:
    hits = industry_hits()
    assert not hits, f"{len(hits)} shipped blueprint name(s) in platform code:\n" + "\n".join(hits)
