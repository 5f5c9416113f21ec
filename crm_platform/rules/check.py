"""Check a parsed rule against a blueprint: references first, then types.

Every problem is reported, not only the first, each at its column in the rule text:

- an unknown object, field, stage, approval, role, template, webhook, assignment table,
  choice or recipient is a :class:`RuleReferenceError` that lists what was expected and
  adds "did you mean ..." when a name is close;
- a value that cannot fit is a :class:`RuleTypeError`, as far as the types are known
  before the rule runs: a date compared with a text, ``set amount = "abc"``, a text
  added to a number, ``changes to "abc"`` on a money field;
- a rule that is well-formed but cannot work (``deleted -> set ...``) is a plain
  :class:`RuleError`.
"""

from __future__ import annotations

import ast as pyast
from collections.abc import Sequence

from crm_platform.metadata.model import SYSTEM_COLUMNS, Blueprint, Field, FieldType, ObjectDef
from crm_platform.metadata.suggest import closest, did_you_mean

from . import ast
from .errors import RuleError, RuleReferenceError, RuleTypeError
from .exprtypes import EXPECTED, ExpressionTypes, allowed_values, article, is_iso, kind_of, shown, type_name

#: What a date field may be set to, beyond what it may be compared with.
_SETTABLE = {
    "date": 'a date (a date field, today() or "YYYY-MM-DD")',
    "datetime": 'a datetime (a datetime field, now() or "YYYY-MM-DDTHH:MM")',
}
#: How a value after ``changes from/to`` is written for each kind of field.
_LITERALS = {
    "number": "a number",
    "boolean": "true or false",
    "date": 'a date as "YYYY-MM-DD"',
    "datetime": 'a datetime as "YYYY-MM-DDTHH:MM"',
}
#: How many candidates an error lists before it says "...".
MAX_LISTED = 12
#: Actions that change the record, which a deleted record cannot take.
_CHANGING = (
    ast.SetField,
    ast.AssignTo,
    ast.AssignBy,
    ast.AssignRoundRobin,
    ast.MoveToPool,
    ast.StartApproval,
)


def check_rule(rule: ast.Rule, blueprint: Blueprint) -> list[RuleError]:
    """Every problem of ``rule`` against ``blueprint``, in the order they appear in the text."""
    checker = _Checker(rule, blueprint)
    checker.run()
    return sorted(checker.errors, key=lambda e: (e.line, e.column))


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (", ..." if len(names) > MAX_LISTED else "")


class _Checker:
    def __init__(self, rule: ast.Rule, blueprint: Blueprint) -> None:
        self.rule = rule
        self.bp = blueprint
        self.errors: list[RuleError] = []
        self.obj: ObjectDef | None = None

    # -------------------------------------------------------------- reporting

    def unknown(
        self, kind: str, name: str, node: ast.Node, column: int, candidates: Sequence[str], where: str = ""
    ) -> None:
        candidates = list(candidates)
        if candidates:
            expected = f"; expected one of: {_listed(candidates)}"
        else:
            expected = f"; the blueprint declares no {kind}s"
        self.errors.append(
            RuleReferenceError(
                f"unknown {kind} '{name}'{where}{expected}{did_you_mean(name, candidates)}",
                column,
                node.line,
                kind=kind,
                name=name,
                expected=candidates,
                suggestion=closest(name, candidates),
            )
        )

    def type_error(self, message: str, node: ast.Node, column: int | None = None) -> None:
        self.errors.append(RuleTypeError(message, column or node.column, node.line))

    def field(self, obj: ObjectDef, name: str, node: ast.Node, column: int) -> Field | None:
        if obj.has_field(name):
            return obj.field(name)
        self.unknown("field", name, node, column, obj.field_names, f" on {obj.name}")
        return None

    # -------------------------------------------------------------- the rule

    def run(self) -> None:
        rule = self.rule
        if not self.bp.has_object(rule.object):
            self.unknown("object", rule.object, rule, rule.object_column, self.bp.object_names)
            return  # everything else would be reported against the wrong object
        self.obj = self.bp.object(rule.object)
        self.trigger(self.obj, rule.trigger)
        if rule.condition is not None:
            self.expression(self.obj, rule.condition)
        for action in rule.actions:
            self.action(self.obj, action)

    def trigger(self, obj: ObjectDef, trigger: ast.Trigger) -> None:
        match trigger:
            case ast.FieldChange():
                field = self.field(obj, trigger.field, trigger, trigger.name_column)
                for value in (trigger.from_value, trigger.to_value):
                    if field is not None and value is not None:
                        self.literal(obj, field, value)
            case ast.StageEntered():
                stages = [s.name for s in obj.stages]
                if not stages:
                    with_stages = [o.name for o in self.bp.objects if o.stages]
                    self.errors.append(
                        RuleError(
                            f"{obj.name} has no stages; 'enters stage' needs an object with stages: "
                            f"{_listed(with_stages) or 'none is declared'}",
                            trigger.name_column,
                            trigger.line,
                        )
                    )
                elif trigger.stage not in stages:
                    self.unknown(
                        "stage", trigger.stage, trigger, trigger.name_column, stages, f" of {obj.name}"
                    )
            case ast.DateOffset():
                field = self.field(obj, trigger.field, trigger, trigger.name_column)
                if field is not None and kind_of(field) not in ("date", "datetime"):
                    dates = [f.name for f in obj.fields if kind_of(f) in ("date", "datetime")]
                    self.type_error(
                        f"{obj.name}.{field.name} is {article(type_name(field))} field; "
                        f"'{trigger.direction}' needs a date or datetime field"
                        + (f": {_listed(dates)}" if dates else f", and {obj.name} has none"),
                        trigger,
                        trigger.name_column,
                    )

    def literal(self, obj: ObjectDef, field: Field, value: ast.Literal) -> None:
        """A value in ``changes from X to Y`` must be one the field can hold."""
        kind = kind_of(field)
        allowed = allowed_values(obj, field)
        if allowed is not None and value.kind in ("text", "word"):
            if value.value not in allowed:
                what = "stage" if field.type is FieldType.STAGE else "choice"
                self.unknown(
                    what, str(value.value), value, value.column, allowed, f" of {obj.name}.{field.name}"
                )
            return
        shown = f'the text "{value.value}"' if value.kind == "text" else f"'{value.value}'"
        if value.kind == "text" and kind in ("date", "datetime") and is_iso(str(value.value), kind):
            return
        fits = {
            "number": ("number",),
            "boolean": ("boolean",),
            "date": (),
            "datetime": (),
            "list": ("text", "word"),
        }.get(kind, ("text", "word", "number"))
        if value.kind not in fits:
            expected = _LITERALS.get(kind, "a text")
            self.type_error(
                f"{obj.name}.{field.name} is {article(type_name(field))} field and cannot be {shown}; "
                f"expected {expected}",
                value,
            )

    # -------------------------------------------------------------- actions

    def action(self, obj: ObjectDef, action: ast.Action) -> None:
        deleted = isinstance(self.rule.trigger, ast.RecordEvent) and self.rule.trigger.event == "deleted"
        if deleted and isinstance(action, _CHANGING):
            self.errors.append(
                RuleError(
                    "a deleted record cannot be changed; only notify, email, create and call webhook "
                    "may follow 'deleted'",
                    action.column,
                    action.line,
                )
            )
            return
        match action:
            case ast.Notify(recipient=who, message=message):
                self.recipient(obj, who, "notify")
                if message is not None:
                    self.placeholders(obj, message)
            case ast.Email(recipient=who, template=template):
                self.recipient(obj, who, "email")
                if template not in [t.name for t in self.bp.templates]:
                    self.unknown(
                        "template", template, action, action.name_column, [t.name for t in self.bp.templates]
                    )
            case ast.CreateTask(title=title, assignee=who):
                self.placeholders(obj, title)
                if who is not None:
                    self.recipient(obj, who, "task")
            case ast.CreateRecord():
                self.create(obj, action)
            case ast.SetField(field=name, value=value):
                field = self.field(obj, name, action, action.name_column)
                kind = self.expression(obj, value)
                if field is not None:
                    self.assign(obj, field, value, kind, action.name_column)
            case ast.AssignTo(recipient=who):
                self.recipient(obj, who, "assign")
            case ast.AssignBy(field=name):
                self.assign_by(obj, action, name)
            case ast.AssignRoundRobin(group="role", name=name):
                if name not in self.bp.roles:
                    self.unknown("role", name, action, action.name_column, self.bp.roles)
            case ast.StartApproval(approval=name):
                names = [a.name for a in self.bp.approvals]
                if name not in names:
                    self.unknown("approval", name, action, action.name_column, names)
                elif (approval := self.bp.approval(name)).object != obj.name:
                    self.errors.append(
                        RuleError(
                            f"approval '{name}' is for {approval.object} records, not {obj.name}",
                            action.name_column,
                            action.line,
                        )
                    )
            case ast.CallWebhook(webhook=name):
                names = [w.name for w in self.bp.webhooks]
                if name not in names:
                    self.unknown("webhook", name, action, action.name_column, names)

    def placeholders(self, obj: ObjectDef, text: ast.Text) -> None:
        for placeholder in text.placeholders:
            if not obj.has_field(placeholder.name) and placeholder.name not in SYSTEM_COLUMNS:
                self.unknown(
                    "field",
                    placeholder.name,
                    placeholder,
                    placeholder.column,
                    obj.field_names,
                    f" on {obj.name}",
                )

    def create(self, obj: ObjectDef, action: ast.CreateRecord) -> None:
        if not self.bp.has_object(action.object):
            self.unknown("object", action.object, action, action.name_column, self.bp.object_names)
            for item in action.values:
                self.expression(obj, item.value)
            return
        target = self.bp.object(action.object)
        seen: set[str] = set()
        for item in action.values:
            kind = self.expression(obj, item.value)  # values read the triggering record
            field = self.field(target, item.field, item, item.column)
            if item.field in seen:
                self.errors.append(RuleError(f"{item.field} is given twice", item.column, item.line))
            seen.add(item.field)
            if field is not None:
                self.assign(target, field, item.value, kind, item.column)

    def assign(self, obj: ObjectDef, field: Field, value: ast.Expr, kind: str, column: int) -> None:
        """``field`` (of ``obj``) is set to ``value``, whose kind is ``kind``."""
        if field.is_computed:
            self.errors.append(
                RuleError(
                    f"cannot set {field.name}: it is {article(field.type.value.replace('_', ' '))} field, "
                    "computed by the platform",
                    column,
                    value.line,
                )
            )
            return
        body = value.expression.tree.body if value.expression is not None else None
        constant = body.value if isinstance(body, pyast.Constant) else None
        allowed = allowed_values(obj, field)
        items: list[pyast.expr] = []
        if field.type is FieldType.MULTI_CHOICE and isinstance(body, pyast.List | pyast.Tuple):
            items = list(body.elts)  # tags: every text in the list must be a choice
        elif allowed is not None and isinstance(body, pyast.Constant) and isinstance(constant, str):
            items = [body]
        for item in items:
            if isinstance(item, pyast.Constant) and isinstance(item.value, str) and item.value not in allowed:
                what = "stage" if field.type is FieldType.STAGE else "choice"
                column = value.column + item.col_offset
                self.unknown(what, item.value, value, column, allowed or (), f" of {obj.name}.{field.name}")
        if items and field.type is not FieldType.MULTI_CHOICE:
            return
        target = kind_of(field)
        if isinstance(constant, str) and target in ("date", "datetime") and is_iso(constant, target):
            return  # the record service reads ISO dates, as the API does
        fits = {
            "number": ("number",),
            "date": ("date",) if target == "date" else ("date", "datetime"),
            "datetime": ("date", "datetime"),
            "boolean": ("boolean",),
            "list": ("list",),
            "any": (kind,),
        }.get(target, ("text", "number", "date", "datetime", "boolean"))
        if kind not in (*fits, "any", "none"):
            self.type_error(
                f"cannot set {field.name} ({article(type_name(field))} field) to "
                f"{shown(body, kind, value.text)}; expected {_SETTABLE.get(target, EXPECTED[target])}",
                value,
                value.column,
            )

    def assign_by(self, obj: ObjectDef, action: ast.AssignBy, name: str) -> None:
        field = self.field(obj, name, action, action.name_column)
        if field is None:
            return
        tables = [t for t in self.bp.assignments if t.object == obj.name]
        if not any(t.field == name for t in tables):
            with_tables = [t.field for t in tables]
            expected = (
                f"; expected a field with one: {_listed(with_tables)}{did_you_mean(name, with_tables)}"
                if with_tables
                else ""
            )
            self.errors.append(
                RuleReferenceError(
                    f"no assignment table for {obj.name}.{name}; declare one under assignments: "
                    f"(object: {obj.name}, field: {name}){expected}",
                    action.name_column,
                    action.line,
                    kind="assignment table",
                    name=name,
                    expected=with_tables,
                    suggestion=closest(name, with_tables),
                )
            )

    def recipient(self, obj: ObjectDef, who: ast.Recipient, action: str) -> None:
        kind = who.kind
        problem = None
        if action == "assign" and kind in (ast.RecipientKind.ROLE, ast.RecipientKind.TEAM):
            problem = (
                f"a record is assigned to one user, not to a {kind.value}; "
                f"write 'assign round robin in {kind.value} {who.name}'"
            )
        elif action == "assign" and kind is ast.RecipientKind.OWNER:
            problem = "cannot assign to owner: the record already belongs to its owner"
        elif action in ("assign", "task") and kind is ast.RecipientKind.CONTACT:
            verb = "assign" if action == "assign" else "give a task"
            problem = f"cannot {verb} to contact: a contact is not a user of the platform"
        elif action == "notify" and kind is ast.RecipientKind.CONTACT:
            # Notifications land in a user's inbox; a contact has none (it would fail at run time).
            problem = (
                "cannot notify contact: a contact is not a user of the platform; "
                "write 'email contact \"TEMPLATE\"' to reach them"
            )
        if problem:
            self.errors.append(RuleError(problem, who.column, who.line))
            return
        match kind:
            case ast.RecipientKind.ROLE:
                if who.name not in self.bp.roles:
                    self.unknown("role", str(who.name), who, who.name_column, self.bp.roles)
            case ast.RecipientKind.USER:
                address = str(who.name)
                if "@" not in address.strip("@") or any(c.isspace() for c in address):
                    self.type_error(
                        f"expected an e-mail address after 'user', got '{address}'", who, who.name_column
                    )
            case ast.RecipientKind.CONTACT:
                self.contact(obj, who)
            case ast.RecipientKind.FIELD:
                self.field_recipient(obj, who, action)

    def contact(self, obj: ObjectDef, who: ast.Recipient) -> None:
        """``contact``: the object's contact role (``contact_field``), an e-mail field or a lookup
        whose target's own contact role is an e-mail field (see rules/recipients.py)."""
        name = obj.roles.contact
        field = obj.field(name) if name is not None and obj.has_field(name) else None
        if field is not None and field.type is FieldType.EMAIL:
            return
        if field is not None and field.type is FieldType.LOOKUP and field.to and self.bp.has_object(field.to):
            target = self.bp.object(str(field.to))
            found = target.roles.contact
            if found is not None and target.has_field(found) and target.field(found).type is FieldType.EMAIL:
                return
            problem = (
                f"{obj.name}'s contact_field '{name}' points to {target.name}, which has no contact e-mail; "
                f"declare contact_field (an email field) on {target.name}"
            )
        elif field is not None:
            problem = f"{obj.name}'s contact_field '{name}' is neither an email field nor a lookup"
        else:
            problem = (
                f"{obj.name} has no contact e-mail; declare contact_field on {obj.name} "
                "(an email field, or a lookup to an object with one)"
            )
        self.errors.append(RuleReferenceError(problem, who.column, who.line, kind="contact", name="contact"))

    def field_recipient(self, obj: ObjectDef, who: ast.Recipient, action: str) -> None:
        name = str(who.name)
        users = [f.name for f in obj.fields if f.type is FieldType.USER]
        if action == "email":
            users += [f.name for f in obj.fields if f.type is FieldType.EMAIL]
        if not obj.has_field(name):
            keywords = ["owner", "manager", "contact"]
            fields = f" ({', '.join(users)})" if users else ""
            self.errors.append(
                RuleReferenceError(
                    f"unknown recipient '{name}'; expected owner, manager, role NAME, team NAME, "
                    f'user "EMAIL", contact or a user field of {obj.name}{fields}'
                    f"{did_you_mean(name, keywords + users)}",
                    who.name_column,
                    who.line,
                    kind="recipient",
                    name=name,
                    expected=keywords + users,
                    suggestion=closest(name, keywords + users),
                )
            )
        elif name not in users:
            wanted = "a user or email field" if action == "email" else "a user field"
            field = obj.field(name)
            self.type_error(
                f"{obj.name}.{name} is {article(type_name(field))} field; a recipient must be {wanted}",
                who,
                who.name_column,
            )

    # -------------------------------------------------------------- expressions

    def expression(self, obj: ObjectDef, expr: ast.Expr) -> str:
        """Check the names and types in ``expr`` (over ``obj``'s fields); returns its kind."""
        if expr.expression is None:
            return "any"
        reported: set[str] = set()
        names = expr.expression.names
        for node in pyast.walk(expr.expression.tree):
            if not isinstance(node, pyast.Name) or node.id in reported or node.id not in names:
                continue  # function names and constants (true, null) are not fields
            if not obj.has_field(node.id) and node.id not in SYSTEM_COLUMNS:
                reported.add(node.id)
                column = expr.column + node.col_offset
                self.unknown("field", node.id, expr, column, obj.field_names, f" on {obj.name}")
        try:
            return ExpressionTypes(self, obj, expr).kind(expr.expression.tree.body)
        except RecursionError:  # absurdly deep nesting: leave the types unchecked
            return "any"
