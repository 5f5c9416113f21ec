"""Schema-valid blueprint data -> the typed, frozen model.

The data has passed :func:`~crm_platform.metadata.schema.validate_schema`, so
shapes are known; values that do not suit their field (a default of the wrong
type) are kept as written and reported by :mod:`~crm_platform.metadata.checks`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .build_process import ProcessBuilder, build_roles
from .build_public_forms import build_public_form
from .model import (
    Approval,
    ApprovalMode,
    ApprovalOutcome,
    ApprovalStep,
    Approver,
    ApproverKind,
    AssignmentEntry,
    AssignmentTable,
    Blueprint,
    Choice,
    Condition,
    Field,
    FieldAccess,
    FieldAssignment,
    FieldGrant,
    FieldType,
    FilterOp,
    Form,
    FormSection,
    Grant,
    Label,
    ListView,
    ObjectDef,
    Outcome,
    RuleSource,
    Scope,
    SortKey,
    Stage,
    Template,
    Webhook,
)
from .yamlpos import Path, YamlDocument

DECIMAL_TYPES = frozenset({FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT})


def build_model(
    document: YamlDocument, *, sources: tuple[str, ...] = (), extends: str | None = None
) -> Blueprint:
    """Turn the schema-valid ``document`` into a :class:`Blueprint`."""
    return _Builder(document).blueprint(sources or (document.filename,), extends)


def build_label(value: Any) -> Label:
    """A label from its YAML form: a plain (English) string or ``{en, zh}``."""
    if isinstance(value, str):
        return Label(en=value)
    if isinstance(value, dict):
        return Label(en=value.get("en"), zh=value.get("zh"))
    return Label()


def expression_text(value: Any) -> str:
    """An expression from a YAML scalar: ``true`` written unquoted is the expression ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def to_decimal(value: Any) -> Decimal | None:
    """``value`` as a Decimal when it is a number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return Decimal(value)


def parse_approver(text: str) -> Approver | None:
    """``manager``, ``manager_chain``, ``owner``, ``role NAME`` or ``user EMAIL``; else ``None``."""
    parts = text.split()
    if len(parts) == 1 and parts[0] in ("manager", "manager_chain", "owner"):
        return Approver(ApproverKind(parts[0]))
    if len(parts) == 2 and parts[0] in ("role", "user"):
        return Approver(ApproverKind(parts[0]), parts[1])
    return None


def typed_default(field_type: FieldType, value: Any) -> Any:
    """The default converted to the field's Python type, or as written when it does not fit."""
    if value is None:
        return None
    if field_type in DECIMAL_TYPES:
        number = to_decimal(value)
        return value if number is None else number
    if field_type is FieldType.MULTI_CHOICE and isinstance(value, list):
        return tuple(value)
    return value


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


class _Builder:
    def __init__(self, document: YamlDocument) -> None:
        self.doc = document
        self.data: dict[str, Any] = document.data
        self.process = ProcessBuilder(document, build_label, typed_default)

    def blueprint(self, sources: tuple[str, ...], extends: str | None) -> Blueprint:
        data = self.data
        roles = data.get("roles") or ()
        return Blueprint(
            name=data["blueprint"],
            version=data["version"],
            label=build_label(data.get("label")),
            objects=tuple(self._object(name, spec) for name, spec in (data.get("objects") or {}).items()),
            roles=tuple(roles),
            approvals=tuple(self._approval(n, s) for n, s in (data.get("approvals") or {}).items()),
            # A rule the schema rejected is None here (see partial.prune): it keeps its index.
            rules=tuple(self._rule(i, r) for i, r in enumerate(data.get("rules") or ()) if r is not None),
            templates=tuple(
                Template(n, build_label(s["subject"]), build_label(s["body"]), self.doc.key(("templates", n)))
                for n, s in (data.get("templates") or {}).items()
            ),
            webhooks=tuple(
                Webhook(
                    n,
                    s["url"],
                    self.doc.key(("webhooks", n)),
                    secret_env=s.get("secret_env"),
                    events=tuple(s.get("events") or ()),
                    enabled=s.get("enabled", True),
                )
                for n, s in (data.get("webhooks") or {}).items()
            ),
            assignments=tuple(self._assignment(n, s) for n, s in (data.get("assignments") or {}).items()),
            conversions=tuple(
                self.process.conversion(n, s) for n, s in (data.get("conversions") or {}).items()
            ),
            permissions=self._permissions(data.get("permissions")),
            public_forms=tuple(
                build_public_form(n, s, self.doc, build_label, self.process.values)
                for n, s in (data.get("public_forms") or {}).items()
            ),
            extends=extends,
            sources=sources,
        )

    def _permissions(self, value: dict[str, Any] | None) -> tuple[Grant, ...] | None:
        if value is None:
            return None
        grants = []
        for role, objects in value.items():
            for obj, spec in (objects or {}).items():
                path: Path = ("permissions", role, obj)
                grants.append(
                    Grant(
                        role=role,
                        object=obj,
                        **{a: Scope(spec[a]) for a in ("read", "create", "edit", "delete") if a in spec},
                        fields=tuple(
                            FieldGrant(f, FieldAccess(access), self.doc.key((*path, "fields", f)))
                            for f, access in (spec.get("fields") or {}).items()
                        ),
                        position=self.doc.key(path),
                    )
                )
        return tuple(grants)

    def _object(self, name: str, spec: dict[str, Any]) -> ObjectDef:
        path: Path = ("objects", name)
        fields = tuple(self._field(path, n, s) for n, s in (spec.get("fields") or {}).items())
        process = self.process
        return ObjectDef(
            name=name,
            title=spec["title"],
            fields=fields,
            label=build_label(spec.get("label")),
            plural=build_label(spec.get("plural")),
            forms=tuple(self._form(path, n, s) for n, s in (spec.get("forms") or {}).items()),
            list_views=tuple(self._list_view(path, n, s) for n, s in (spec.get("list_views") or {}).items()),
            stages=tuple(self._stage(path, i, s) for i, s in enumerate(spec.get("stages") or ())),
            roles=build_roles(spec, fields),
            pool=process.values(name, spec.get("pool"), (*path, "pool")),
            actions=tuple(
                process.action(name, n, s, (*path, "actions", n))
                for n, s in (spec.get("actions") or {}).items()
            ),
            rollups=tuple(
                process.rollup(n, s, (*path, "rollups", n)) for n, s in (spec.get("rollups") or {}).items()
            ),
            duplicates=process.duplicates(spec.get("duplicates"), (*path, "duplicates")),
            position=self.doc.key(path),
        )

    def _field(self, object_path: Path, name: str, spec: dict[str, Any]) -> Field:
        field_type = FieldType(spec["type"])
        returns = spec.get("returns")
        return Field(
            name=name,
            type=field_type,
            label=build_label(spec.get("label")),
            required=spec.get("required", False),
            unique=spec.get("unique", False),
            indexed=spec.get("indexed", False),
            min=to_decimal(spec.get("min")),
            max=to_decimal(spec.get("max")),
            max_length=spec.get("max_length"),
            pattern=spec.get("pattern"),
            default=typed_default(field_type, spec.get("default")),
            choices=self._choices(spec.get("choices")),
            to=spec.get("to"),
            formula=spec.get("formula"),
            returns=FieldType(returns) if returns in FieldType._value2member_map_ else None,
            scale=spec.get("scale"),
            prefix=spec.get("prefix", ""),
            digits=spec.get("digits", 6),
            help=build_label(spec.get("help")),
            position=self.doc.key((*object_path, "fields", name)),
        )

    @staticmethod
    def _choices(value: Any) -> tuple[Choice, ...]:
        if isinstance(value, list):
            return tuple(Choice(name) for name in value)
        if isinstance(value, dict):
            choices = []
            for name, spec in value.items():
                if isinstance(spec, dict) and set(spec) <= {"label", "color"} and spec:
                    choices.append(Choice(name, build_label(spec.get("label")), spec.get("color")))
                else:
                    choices.append(Choice(name, build_label(spec)))
            return tuple(choices)
        return ()

    def _form(self, object_path: Path, name: str, spec: dict[str, Any]) -> Form:
        path = (*object_path, "forms", name)
        sections = tuple(
            FormSection(
                fields=_names(section["fields"]),
                label=build_label(section.get("label")),
                columns=section.get("columns", 2),
                position=self.doc.node((*path, "sections", index)),
            )
            for index, section in enumerate(spec["sections"])
        )
        return Form(name, sections, build_label(spec.get("label")), self.doc.key(path))

    def _list_view(self, object_path: Path, name: str, spec: dict[str, Any]) -> ListView:
        sort = tuple(
            SortKey(key[1:], descending=True) if key.startswith("-") else SortKey(key)
            for key in spec.get("sort") or ()
        )
        filters = tuple(
            Condition(
                c["field"],
                FilterOp(c["op"]),
                tuple(c["value"]) if isinstance(c.get("value"), list) else c.get("value"),
            )
            for c in spec.get("filter") or ()
        )
        return ListView(
            name=name,
            columns=_names(spec["columns"]),
            sort=sort,
            filters=filters,
            label=build_label(spec.get("label")),
            position=self.doc.key((*object_path, "list_views", name)),
        )

    def _stage(self, object_path: Path, index: int, spec: dict[str, Any]) -> Stage:
        outcome = spec.get("outcome")
        return Stage(
            name=spec["name"],
            label=build_label(spec.get("label")),
            probability=spec.get("probability"),
            outcome=Outcome(outcome) if outcome else None,
            requires=_names(spec.get("requires")),
            requires_tasks=_names(spec.get("requires_tasks")),
            idle_days=spec.get("idle_days"),
            from_stages=_names(spec.get("from")),
            requires_approval=spec.get("requires_approval"),
            reason=spec.get("reason"),
            position=self.doc.node((*object_path, "stages", index)),
        )

    def _approval(self, name: str, spec: dict[str, Any]) -> Approval:
        path: Path = ("approvals", name)
        steps = []
        for index, step in enumerate(spec["steps"]):
            approver = parse_approver(step["approver"]) or Approver(ApproverKind.OWNER)
            steps.append(
                ApprovalStep(
                    name=step.get("name", f"step_{index + 1}"),
                    approver=approver,
                    condition=step.get("if"),
                    mode=ApprovalMode(step.get("mode", "any")),
                    escalate_after_hours=step.get("escalate_after_hours"),
                    position=self.doc.node((*path, "steps", index)),
                )
            )
        return Approval(
            name=name,
            object=spec["object"],
            steps=tuple(steps),
            label=build_label(spec.get("label")),
            on_approve=self._outcome(spec.get("on_approve")),
            on_reject=self._outcome(spec.get("on_reject")),
            position=self.doc.key(path),
        )

    @staticmethod
    def _outcome(spec: dict[str, Any] | None) -> ApprovalOutcome:
        if not spec:
            return ApprovalOutcome()
        assignments = tuple(
            FieldAssignment(f, expression_text(v)) for f, v in (spec.get("set") or {}).items()
        )
        return ApprovalOutcome(set=assignments, stage=spec.get("stage"))

    def _rule(self, index: int, spec: Any) -> RuleSource:
        path: Path = ("rules", index)
        # A block scalar (``|``) ends in a newline that is YAML's, not the rule's.
        if isinstance(spec, str):
            return RuleSource(spec.rstrip("\n"), position=self.doc.text(path))
        return RuleSource(
            spec["rule"].rstrip("\n"),
            name=spec.get("name"),
            enabled=spec.get("enabled", True),
            position=self.doc.text((*path, "rule")),
        )

    def _assignment(self, name: str, spec: dict[str, Any]) -> AssignmentTable:
        return AssignmentTable(
            name=name,
            object=spec["object"],
            field=spec["field"],
            entries=tuple(AssignmentEntry(str(v), u) for v, u in spec["map"].items()),
            default=spec.get("default"),
            position=self.doc.key(("assignments", name)),
        )
