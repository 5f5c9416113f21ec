"""The scenario-test format: YAML with positions -> JSON Schema -> typed scenarios -> checks.

A scenario file sits next to its blueprint (``b2b_sales.yaml`` ->
``b2b_sales.scenarios.yaml``). Errors come back as ``file:line:col: message``,
exactly like a blueprint's, because consultants fix both in the same editor.

Example::

    scenarios = load_scenarios("blueprints/b2b_sales.scenarios.yaml", blueprint)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from crm_platform.metadata import Blueprint, BlueprintError, Diagnostic
from crm_platform.metadata.model import Position
from crm_platform.metadata.schema import packaged_schema, packaged_validator
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.metadata.yamlpos import Path as NodePath
from crm_platform.metadata.yamlpos import YamlDocument, parse_yaml
from crm_platform.rules.compiled import rule_key

#: What a ``when`` step may do; ``expect`` is a checkpoint in the middle of a scenario.
ACTIONS = (
    "create",
    "update",
    "follow_up",
    "complete_task",
    "approve",
    "reject",
    "convert",
    "act",
    "find",
    "advance",
    "expect",
)

#: When ``given.now`` is not set: a Monday morning, so "N days" never lands on a surprise.
DEFAULT_NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class UserSpec:
    """A user the scenario starts with."""

    email: str
    role: str
    manager: str | None
    team: str | None


@dataclass(frozen=True)
class RecordSpec:
    """A record the scenario starts with, under a symbolic name steps refer to (``@acme``)."""

    name: str
    object: str
    actor: str | None
    values: Mapping[str, Any]
    position: Position


@dataclass(frozen=True)
class ErrorSpec:
    """The error a step must end in: its code, words of its message, words per field."""

    code: str | None
    message: str | None
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Step:
    """One ``when`` step: an action, its arguments (schema-checked) and an expected error."""

    action: str
    args: Mapping[str, Any]
    error: ErrorSpec | None
    position: Position
    #: Where each expectation of an ``expect`` step (or key of another action) stands.
    positions: Mapping[str, Position] = field(default_factory=dict)
    #: Where each argument's value stands (for errors about a name written there).
    values: Mapping[str, Position] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One scenario: given a world, when steps run, expect what a user would see."""

    name: str
    file: str
    position: Position
    covers: tuple[str, ...]
    now: dt.datetime
    users: tuple[UserSpec, ...]
    records: tuple[RecordSpec, ...]
    steps: tuple[Step, ...]


def load_schema() -> dict[str, Any]:
    """The scenario JSON Schema (draft 2020-12) shipped in this package."""
    return packaged_schema(__package__, "scenario.schema.json")


def _validator() -> Draft202012Validator:
    return packaged_validator(__package__, "scenario.schema.json")


def scenarios_path_for(blueprint_path: str | Path) -> Path:
    """``b2b_sales.yaml`` -> ``b2b_sales.scenarios.yaml`` (the file kept next to a blueprint)."""
    path = Path(blueprint_path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(f"{stem}.scenarios{path.suffix or '.yaml'}")


def load_scenarios(path: str | Path, blueprint: Blueprint) -> list[Scenario]:
    """Read, validate and check the scenario file at ``path`` against ``blueprint``.

    Raises :class:`~crm_platform.metadata.BlueprintError` with every problem found.
    """
    filename = str(path)
    text = Path(path).read_text("utf-8")
    document = parse_yaml(text, filename)
    diagnostics = list(document.diagnostics)
    if not isinstance(document.data, dict):
        raise BlueprintError([Diagnostic(document.node(()), "expected a mapping with 'scenarios'")])
    for error in _validator().iter_errors(document.data):
        diagnostics.extend(_explain(error, document))
    if diagnostics:
        raise BlueprintError(_unique(diagnostics))
    scenarios, problems = _Builder(document, blueprint).build()
    if problems:
        raise BlueprintError(_unique(problems))
    return scenarios


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return list({(d.position.line, d.position.column, d.message): d for d in diagnostics}.values())


# -- schema errors in words ---------------------------------------------------------------------


def _describe(path: NodePath, data: Any) -> str:
    match path:
        case ():
            return "the scenario file"
        case ("scenarios", int(index)):
            name = _at(data, path).get("name") if isinstance(_at(data, path), dict) else None
            return f"scenario '{name}'" if isinstance(name, str) else f"scenario {index + 1}"
        case ("scenarios", int(_), "when", int(step)):
            return f"step {step + 1} of {_describe(path[:2], data)}"
        case (*parent, str(key)):
            return f"'{key}' of {_describe(tuple(parent), data)}"
        case (*parent, int(index)):
            return f"item {index + 1} of {_describe(tuple(parent), data)}"
    return "'" + ".".join(str(p) for p in path) + "'"


def _at(data: Any, path: NodePath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _explain(error: ValidationError, document: YamlDocument) -> Iterator[Diagnostic]:
    path: NodePath = tuple(error.absolute_path)
    where = _describe(path, document.data)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for key in error.instance:
            if key not in known:
                yield Diagnostic(
                    document.key((*path, key)), f"unknown key '{key}' in {where}{did_you_mean(key, known)}"
                )
    elif error.validator == "required":
        for name in error.validator_value:
            if name not in error.instance:
                yield Diagnostic(document.node(path), f"{where} is missing '{name}'")
    elif error.validator == "type":
        expected = error.validator_value
        words = expected if isinstance(expected, str) else " or ".join(expected)
        yield Diagnostic(document.node(path), f"{where}: expected {words}, got {error.instance!r}")
    elif error.validator == "enum":
        options = ", ".join(str(v) for v in error.validator_value)
        hint = did_you_mean(str(error.instance), [str(v) for v in error.validator_value])
        yield Diagnostic(
            document.node(path), f"{where}: unknown value {error.instance!r}{hint}; expected one of {options}"
        )
    elif error.validator == "pattern":
        yield Diagnostic(
            document.node(path),
            f"{where}: {error.instance!r} is not a record name (lower_snake_case, e.g. acme)",
        )
    elif error.validator in ("minimum", "maximum"):
        bound = "at least" if error.validator == "minimum" else "at most"
        yield Diagnostic(
            document.node(path), f"{where} must be {bound} {error.validator_value}, got {error.instance}"
        )
    elif error.validator in ("minProperties", "minItems", "minLength"):
        yield Diagnostic(document.node(path), f"{where} must not be empty")
    else:
        yield Diagnostic(document.node(path), f"{where}: {error.message}")


# -- building and checking ----------------------------------------------------------------------


class _Builder:
    """Turns schema-valid data into :class:`Scenario` objects, collecting reference errors."""

    def __init__(self, document: YamlDocument, blueprint: Blueprint) -> None:
        self.document = document
        self.blueprint = blueprint
        self.problems: list[Diagnostic] = []
        self.objects = [obj.name for obj in blueprint.objects]
        self.rule_keys = [rule_key(rule) for rule in blueprint.rules if rule.enabled]

    def problem(self, position: Position, message: str) -> None:
        """Record a problem at ``position``."""
        self.problems.append(Diagnostic(position, message))

    def build(self) -> tuple[list[Scenario], list[Diagnostic]]:
        """Every scenario of the file, and the problems found building them."""
        data = self.document.data
        background = data.get("background") or {}
        scenarios = []
        seen: dict[str, Position] = {}
        for index, raw in enumerate(data["scenarios"]):
            path: NodePath = ("scenarios", index)
            scenario = self.scenario(raw, path, background)
            if scenario.name in seen:
                self.problem(
                    self.document.node((*path, "name")),
                    f"scenario '{scenario.name}' is defined twice (first at {seen[scenario.name]})",
                )
            seen.setdefault(scenario.name, scenario.position)
            scenarios.append(scenario)
        return scenarios, self.problems

    def scenario(self, raw: dict[str, Any], path: NodePath, background: dict[str, Any]) -> Scenario:
        """One scenario, with the background merged in."""
        given = raw.get("given") or {}
        now_text = given.get("now", background.get("now"))
        now_path = (*path, "given", "now") if "now" in given else ("background", "now")
        now = DEFAULT_NOW if now_text is None else self.moment(now_text, now_path)
        users = [*self.users(background.get("users", []), ("background", "users"))]
        users += self.users(given.get("users", []), (*path, "given", "users"))
        emails = {u.email for u in users}
        records = [*self.records(background.get("records", {}), ("background", "records"))]
        records += self.records(given.get("records", {}), (*path, "given", "records"))
        names = {r.name for r in records}
        for spec in records:
            self.check_actor(spec.actor, emails, spec.position)
        steps = []
        for number, raw_step in enumerate(raw["when"]):
            step = self.step(raw_step, (*path, "when", number))
            if step is not None:
                self.check_step(step, emails, names)
                steps.append(step)
        if "expect" in raw:
            steps.append(
                Step(
                    "expect",
                    raw["expect"],
                    None,
                    self.document.key((*path, "expect")),
                    self._keys((*path, "expect")),
                )
            )
        covers = tuple(raw.get("covers", ()))
        for number, key in enumerate(covers):
            if key not in self.rule_keys:
                self.problem(
                    self.document.node((*path, "covers", number)),
                    f"unknown rule '{key}'{did_you_mean(key, self.rule_keys)}",
                )
        return Scenario(
            name=raw["name"],
            file=self.document.filename,
            position=self.document.node((*path, "name")),
            covers=covers,
            now=now,
            users=tuple(users),
            records=tuple(records),
            steps=tuple(steps),
        )

    def moment(self, text: str, path: NodePath) -> dt.datetime:
        """An ISO date and time (UTC when no zone is given)."""
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.problem(
                self.document.node(path), f"'{text}' is not a date and time (e.g. 2026-03-02T09:00:00Z)"
            )
            return DEFAULT_NOW
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def users(self, raw: list[dict[str, Any]], path: NodePath) -> list[UserSpec]:
        """Users as written."""
        return [UserSpec(str(u["email"]).lower(), u["role"], u.get("manager"), u.get("team")) for u in raw]

    def records(self, raw: dict[str, Any], path: NodePath) -> list[RecordSpec]:
        """Named given records, in file order."""
        specs = []
        for name, spec in raw.items():
            position = self.document.key((*path, name))
            self.check_object(spec["object"], self.document.node((*path, name, "object")))
            specs.append(RecordSpec(name, spec["object"], spec.get("as"), spec.get("values", {}), position))
        return specs

    def step(self, raw: dict[str, Any], path: NodePath) -> Step | None:
        """One ``when`` step: exactly one action, its arguments and positions."""
        actions = [key for key in raw if key in ACTIONS]
        position = self.document.node(path)
        if len(actions) != 1:
            what = "no action" if not actions else "actions " + ", ".join(actions)
            self.problem(
                position, f"a step needs exactly one action ({', '.join(ACTIONS)}); this one has {what}"
            )
            return None
        action = actions[0]
        error = raw.get("error")
        spec = None
        if error is not None:
            spec = ErrorSpec(error.get("code"), error.get("message"), error.get("fields", {}))
        where = (*path, action)
        return Step(
            action, raw[action], spec, self.document.key(where), self._keys(where), self._values(where)
        )

    def _keys(self, path: NodePath) -> dict[str, Position]:
        node = _at(self.document.data, path)
        if not isinstance(node, dict):
            return {}
        return {str(key): self.document.key((*path, key)) for key in node}

    def _values(self, path: NodePath) -> dict[str, Position]:
        node = _at(self.document.data, path)
        if not isinstance(node, dict):
            return {}
        return {str(key): self.document.node((*path, key)) for key in node}

    def check_object(self, name: str, position: Position) -> None:
        """Report an object the blueprint does not have."""
        if name not in self.objects:
            self.problem(position, f"unknown object '{name}'{did_you_mean(name, self.objects)}")

    def check_actor(self, email: str | None, emails: set[str], position: Position) -> None:
        """Report a user the scenario does not have."""
        if email is not None and email.lower() not in emails:
            self.problem(
                position, f"unknown user '{email}' (not in given.users){did_you_mean(email, emails)}"
            )

    def check_step(self, step: Step, emails: set[str], names: set[str]) -> None:
        """Report unknown objects, users and record names a step refers to."""
        args = step.args
        if "object" in args:
            self.check_object(args["object"], step.values.get("object", step.position))
        if "as" in args:
            self.check_actor(args["as"], emails, step.values.get("as", step.position))
        record = args.get("record")
        if isinstance(record, str):
            name = record.removeprefix("@")
            if name not in names:
                self.problem(
                    step.values.get("record", step.position),
                    f"unknown record '@{name}'{did_you_mean(name, names)}; name it in given.records, "
                    "a create, convert, act or find step first",
                )
        if step.action in ("create", "find") and "name" in args:
            names.add(str(args["name"]).removeprefix("@"))
        if step.action == "act":
            self.check_act(step)
            if "name" in args:
                names.add(str(args["name"]).removeprefix("@"))
        if step.action == "convert":
            self.check_convert(step)
            named = args.get("name")
            if isinstance(named, dict):
                names.update(str(value).removeprefix("@") for value in named.values())

    def check_act(self, step: Step) -> None:
        """Report an action no object of the blueprint declares."""
        declared = sorted({a.name for o in self.blueprint.objects for a in o.actions})
        name = str(step.args.get("action"))
        if name not in declared:
            where = step.values.get("action", step.position)
            self.problem(where, f"unknown action '{name}'{did_you_mean(name, declared)}")

    def check_convert(self, step: Step) -> None:
        """Report an unknown conversion, and targets ``name``, ``use`` or ``values`` it does not make."""
        args = step.args
        conversions = {c.name: c for c in self.blueprint.conversions}
        name = args.get("conversion")
        if name is None:
            if len(conversions) != 1:
                self.problem(step.position, "say which conversion: conversion: NAME")
                return
            name = next(iter(conversions))
        if name not in conversions:
            where = step.values.get("conversion", step.position)
            self.problem(where, f"unknown conversion '{name}'{did_you_mean(str(name), conversions)}")
            return
        targets = [t.object for t in conversions[name].targets]
        for key in ("name", "use", "values"):
            given = args.get(key)
            for target in given if isinstance(given, dict) else ():
                if target not in targets:
                    self.problem(
                        step.values.get(key, step.position),
                        f"conversion '{name}' makes no '{target}'{did_you_mean(target, targets)}",
                    )
