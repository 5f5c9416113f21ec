"""Semantic checks of a built blueprint: names, references, per-type constraints.

Each problem is a :class:`Diagnostic` at the most precise node: the value for a
bad value, the key for a bad or duplicate name. Unknown names come with a
"did you mean" suggestion. Checks read the model, and the document only for
positions and for values as written (a default of the wrong type).
"""

from __future__ import annotations

from typing import Any

from .build import parse_approver, to_decimal
from .checks_fields import TEXT_LIKE, FieldChecks
from .checks_process import ProcessChecker
from .errors import Diagnostic
from .model import (
    NUMERIC_TYPES,
    RESERVED_OBJECT_NAMES,
    ApprovalOutcome,
    Blueprint,
    FieldType,
    FilterOp,
    ObjectDef,
)
from .partial import Broken
from .permission_checks import check_permissions
from .public_form_checks import check_public_forms
from .schema import describe, show
from .suggest import did_you_mean
from .webhook_checks import check_webhooks
from .yamlpos import Path, YamlDocument

_T = FieldType
_ORDERED = NUMERIC_TYPES | {_T.DATE, _T.DATETIME}
_CONTAINS = TEXT_LIKE | {_T.AUTO_NUMBER, _T.MULTI_CHOICE}
_APPROVER_SYNTAX = "manager, manager_chain, owner, role NAME or user EMAIL"


def check_references(
    blueprint: Blueprint, document: YamlDocument, broken: Broken | None = None
) -> list[Diagnostic]:
    """Every semantic problem of ``blueprint``; positions come from ``document``.

    ``broken`` names the parts the schema rejected (left out of ``blueprint``): references to them
    are not reported again.
    """
    checker = _Checker(blueprint, document, broken=broken)
    checker.run()
    return checker.diagnostics


def _ops_for(field_type: FieldType) -> tuple[FilterOp, ...]:
    ops = [FilterOp.EQ, FilterOp.NE, FilterOp.IN]
    if field_type is _T.MULTI_CHOICE:
        ops = []
    if field_type in _ORDERED:
        ops += [FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE]
    if field_type in _CONTAINS:
        ops.append(FilterOp.CONTAINS)
    return tuple(ops)


class _Checker(FieldChecks):
    # -- the blueprint ---------------------------------------------------------------------------
    def run(self) -> None:
        self.name("blueprint", self.bp.name, self.doc.node(("blueprint",)))
        if self.bp.version < 1:
            self.error(
                self.doc.node(("version",)), f"version must be a positive integer, got {self.bp.version}"
            )
        self.roles()
        for obj in self.bp.objects:
            self.object(obj)
        for approval in self.bp.approvals:
            self.approval(approval.name)
        for kind, section in (("template", "templates"), ("webhook", "webhooks")):
            for name in self.data.get(section) or {}:
                self.name(kind, name, self.doc.key((section, name)))
        for table in self.bp.assignments:
            self.assignment(table.name)
        self.rules()
        ProcessChecker(self.bp, self.doc, self.diagnostics, self.broken).run()
        self.diagnostics.extend(check_permissions(self.bp, self.doc))
        self.diagnostics.extend(check_public_forms(self.bp, self.doc, self.broken))
        self.diagnostics.extend(check_webhooks(self.bp, self.doc))

    def roles(self) -> None:
        roles = self.data.get("roles") or ()
        paths: list[tuple[str, Path]] = [
            (r, ("roles", i) if isinstance(roles, list) else ("roles", r)) for i, r in enumerate(roles)
        ]
        for role, path in paths:
            self.name("role", role, self.doc.key(path))
        self.duplicates("role", "roles", paths)

    def rules(self) -> None:
        named: list[tuple[str, Path]] = []
        # The rules as written: one the schema rejected is None there and not in the model.
        for index, rule in enumerate(self.data.get("rules") or ()):
            if isinstance(rule, dict) and isinstance(rule.get("name"), str):
                path = ("rules", index, "name")
                self.name("rule", rule["name"], self.doc.node(path))
                named.append((rule["name"], path))
        self.duplicates("rule name", "rules", named)

    # -- objects ---------------------------------------------------------------------------------
    def object(self, obj: ObjectDef) -> None:
        path: Path = ("objects", obj.name)
        key = self.doc.key(path)
        self.name("object", obj.name, key)
        if obj.name in RESERVED_OBJECT_NAMES or obj.name.startswith("crm_"):
            self.error(key, f"object name '{obj.name}' is reserved by the platform")
        if not obj.has_field(obj.title) and not self.broken.field(obj.name, obj.title):
            self.error(
                self.doc.node((*path, "title")),
                f"title '{obj.title}' of object '{obj.name}' is not a field"
                f"{did_you_mean(obj.title, obj.field_names)}",
            )
        for field in obj.fields:
            self.field(obj, field, (*path, "fields", field.name))
        self.formula_cycles(obj)
        self.stages(obj, path)
        for form in obj.forms:
            form_path = (*path, "forms", form.name)
            self.name("form", form.name, self.doc.key(form_path))
            for s, section in enumerate(form.sections):
                for i, name in enumerate(section.fields):
                    self.field_ref(
                        obj, name, (*form_path, "sections", s, "fields", i), describe(form_path, None)
                    )
        for view in obj.list_views:
            self.list_view(obj, (*path, "list_views", view.name))

    def stages(self, obj: ObjectDef, path: Path) -> None:
        stage_fields = [f for f in obj.fields if f.type is _T.STAGE]
        for extra in stage_fields[1:]:
            self.error(
                extra.position or self.doc.key(path),
                f"object '{obj.name}' has two stage fields, '{stage_fields[0].name}' and '{extra.name}'; "
                "only one is allowed",
            )
        if obj.stages and not stage_fields and not self.broken.any_field(obj.name):
            self.error(
                self.doc.key((*path, "stages")),
                f"object '{obj.name}' declares stages but has no field of type stage",
            )
        if stage_fields and not obj.stages and not self.broken.part(obj.name, "stages"):
            self.error(
                stage_fields[0].position or self.doc.key(path),
                f"stage field '{stage_fields[0].name}' of '{obj.name}' needs the object's 'stages' list",
            )
        items = [(s.name, (*path, "stages", i, "name")) for i, s in enumerate(obj.stages)]
        for name, name_path in items:
            self.name("stage", name, self.doc.node(name_path))
        self.duplicates("stage", f"object '{obj.name}'", items)
        for i, stage in enumerate(obj.stages):
            stage_path = (*path, "stages", i)
            if stage.probability is not None and not 0 <= stage.probability <= 100:
                self.error(
                    self.doc.node((*stage_path, "probability")),
                    f"probability must be between 0 and 100, got {stage.probability}",
                )
            where = describe(stage_path, self.data)
            for j, name in enumerate(stage.requires):
                self.field_ref(obj, name, (*stage_path, "requires", j), where)

    def list_view(self, obj: ObjectDef, path: Path) -> None:
        view = self.raw(path)
        self.name("list view", path[-1], self.doc.key(path))
        where = describe(path, None)
        # A list shows and sorts by the object's roll-ups like its fields.
        rollups = {r.name for r in obj.rollups}
        for i, name in enumerate(view["columns"]):
            if name not in rollups:
                self.field_ref(obj, name, (*path, "columns", i), where, system=True)
        for i, key in enumerate(view.get("sort") or ()):
            name = key.removeprefix("-")
            if name not in rollups:
                self.field_ref(obj, name, (*path, "sort", i), f"sort of {where}", system=True)
        for i, condition in enumerate(view.get("filter") or ()):
            self.condition(obj, condition, (*path, "filter", i))

    def condition(self, obj: ObjectDef, condition: dict[str, Any], path: Path) -> None:
        where = describe(path, None)
        if not self.field_ref(obj, condition["field"], (*path, "field"), where):
            return
        field = obj.field(condition["field"])
        op = FilterOp(condition["op"])
        ops = _ops_for(field.value_type)
        if op not in ops:
            allowed = ", ".join(o.value for o in ops) or "none"
            self.error(
                self.doc.node((*path, "op")),
                f"operator '{op.value}' does not suit field '{field.name}' of type {field.type.value} "
                f"(use {allowed})",
            )
            return
        value = condition.get("value")
        value_path = (*path, "value")
        if op is FilterOp.IN:
            if not isinstance(value, list):
                self.error(
                    self.doc.node(value_path), f"operator 'in' needs a list of values, got {show(value)}"
                )
                return
            values = [(v, (*value_path, i)) for i, v in enumerate(value)]
        else:
            values = [(value, value_path)]
        names = self.allowed_values(obj, field)
        if field.type is _T.STAGE and self.broken.part(obj.name, "stages"):
            names = None
        for item, item_path in values:
            if names is not None and item not in names:
                kind = "stage" if field.type is _T.STAGE else "choice"
                hint = did_you_mean(str(item), names) if isinstance(item, str) else ""
                self.error(
                    self.doc.node(item_path),
                    f"{show(item)} is not a {kind} of field '{field.name}' of '{obj.name}'{hint}",
                )
            elif field.value_type in NUMERIC_TYPES and to_decimal(item) is None:
                self.error(
                    self.doc.node(item_path), f"expected a number for field '{field.name}', got {show(item)}"
                )

    # -- approvals and assignments ---------------------------------------------------------------
    def approval(self, name: str) -> None:
        approval = self.bp.approval(name)
        path: Path = ("approvals", name)
        self.name("approval", name, self.doc.key(path))
        obj = self.bp.object(approval.object) if self.bp.has_object(approval.object) else None
        if obj is None and not self.broken.object(approval.object):
            self.error(
                self.doc.node((*path, "object")),
                f"approval '{name}' is on unknown object '{approval.object}'"
                f"{did_you_mean(approval.object, self.bp.object_names)}",
            )
        named: list[tuple[str, Path]] = []
        for i, step in enumerate(approval.steps):
            step_path = (*path, "steps", i)
            where = describe(step_path, self.data)
            if (*step_path, "name") in self.doc.nodes:
                named.append((step.name, (*step_path, "name")))
                self.name("step", step.name, self.doc.node((*step_path, "name")))
            raw_approver = self.raw((*step_path, "approver"))
            approver = parse_approver(raw_approver)
            approver_position = self.doc.node((*step_path, "approver"))
            if approver is None:
                hint = f"; did you mean 'role {raw_approver}'?" if raw_approver in self.bp.roles else ""
                self.error(
                    approver_position,
                    f"approver {show(raw_approver)} of {where} is not one of {_APPROVER_SYNTAX}{hint}",
                )
            elif approver.kind.value == "role" and approver.value not in self.bp.roles:
                self.error(
                    approver_position,
                    f"approver of {where} names unknown role '{approver.value}'"
                    f"{did_you_mean(approver.value or '', self.bp.roles)}",
                )
            elif approver.kind.value == "user" and "@" not in (approver.value or ""):
                self.error(approver_position, f"approver of {where} needs an e-mail address after 'user'")
            if step.condition is not None:
                self.expression(step.condition, (*step_path, "if"), f"condition of {where}", obj)
        self.duplicates("step", f"approval '{name}'", named)
        for outcome_name in ("on_approve", "on_reject"):
            outcome: ApprovalOutcome = getattr(approval, outcome_name)
            outcome_path = (*path, outcome_name)
            where = f"{outcome_name} of approval '{name}'"
            if obj is None:
                continue
            stages = tuple(s.name for s in obj.stages)
            if (
                outcome.stage is not None
                and outcome.stage not in stages
                and not self.broken.part(obj.name, "stages")
            ):
                self.error(
                    self.doc.node((*outcome_path, "stage")),
                    f"{where} moves to unknown stage '{outcome.stage}'{did_you_mean(outcome.stage, stages)}",
                )
            for assignment in outcome.set:
                set_path = (*outcome_path, "set", assignment.field)
                if not obj.has_field(assignment.field):
                    self.error(
                        self.doc.key(set_path),
                        f"{where} sets unknown field '{assignment.field}'"
                        f"{did_you_mean(assignment.field, obj.field_names)}",
                    )
                if isinstance(self.raw(set_path), str):
                    self.expression(
                        assignment.expression, set_path, f"value of '{assignment.field}' in {where}", obj
                    )

    def assignment(self, name: str) -> None:
        table = self.bp.assignment(name)
        path: Path = ("assignments", name)
        self.name("assignment table", name, self.doc.key(path))
        if not self.bp.has_object(table.object):
            if self.broken.object(table.object):
                return
            self.error(
                self.doc.node((*path, "object")),
                f"assignment table '{name}' is on unknown object '{table.object}'"
                f"{did_you_mean(table.object, self.bp.object_names)}",
            )
            return
        obj = self.bp.object(table.object)
        if not self.field_ref(obj, table.field, (*path, "field"), f"assignment table '{name}'"):
            return
        names = self.allowed_values(obj, obj.field(table.field))
        if names is not None:
            for entry in table.entries:
                if entry.value not in names:
                    self.error(
                        self.doc.key((*path, "map", entry.value)),
                        f"'{entry.value}' in assignment table '{name}' is not a value of "
                        f"field '{table.field}'"
                        f"{did_you_mean(entry.value, names)}",
                    )
