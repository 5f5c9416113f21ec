"""What a scenario sees: names for records and users, and expectations compared with the database.

The runner's world inherits these lookups and checks; they read through the record
service, the inbox, the outbox and the approval service, never through SQL, and
render what they find in the scenario's vocabulary (``@deal``, e-mails, ISO times).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_platform.compose import Platform
from crm_platform.metadata.model import Condition, FieldType, FilterOp, Position
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import RecordError

from . import expect as compare
from .format import ErrorSpec, Scenario, Step


@dataclass(frozen=True)
class Problem:
    """Why a scenario failed: where in the scenario file, what, and a diff when there is one."""

    position: Position
    message: str
    diff: tuple[str, ...] = ()


class Observer:
    """Lookups and expectations over one scenario's platform (mixed into the runner's world)."""

    scenario: Scenario
    platform: Platform
    users: dict[str, int]
    admins: set[str]
    names: dict[str, tuple[str, int]]

    def actor(self, email: str | None) -> Actor:
        """The actor of user ``email``; without one, the scenario's first user (or the platform)."""
        if email is None:
            # Without "as", a step acts as the scenario's first user (usually the rep).
            email = self.scenario.users[0].email if self.scenario.users else None
            if email is None:
                return SYSTEM
        email = email.lower()
        return Actor(user_id=self.users[email], is_admin=email in self.admins)

    def record(self, name: str) -> tuple[str, int]:
        """The (object, id) of the record named ``name`` (``@deal`` or ``deal``)."""
        return self.names[name.removeprefix("@")]

    def values(self, object: str, values: dict[str, Any] | Any) -> dict[str, Any]:
        """Scenario values -> service values: ``@name`` becomes an id, a user field's e-mail a user id."""
        obj = self.platform.blueprint.object(object)
        resolved: dict[str, Any] = {}
        for key, value in dict(values).items():
            if isinstance(value, str) and value.startswith("@") and value[1:] in self.names:
                value = self.names[value[1:]][1]
            elif obj.has_field(key) and obj.field(key).type is FieldType.USER and value in self.users:
                value = self.users[value]
            resolved[key] = value
        return resolved

    def name_of(self, object: str | None, record_id: int | None) -> str | None:
        """The scenario's name of a record, else "OBJECT ID" (``None`` for no record)."""
        for name, (obj, rid) in self.names.items():
            if obj == object and rid == record_id:
                return name
        return None if record_id is None else f"{object} {record_id}"

    def email_of(self, user_id: int | None) -> str | None:
        """The e-mail of a user id, else "user ID" (``None`` for nobody)."""
        return next(
            (email for email, uid in self.users.items() if uid == user_id),
            None if user_id is None else f"user {user_id}",
        )

    def filters(self, object: str, where: dict[str, Any]) -> list[Condition]:
        """Equality conditions from a ``where`` mapping, references resolved."""
        values = self.values(object, where)
        return [Condition(key, FilterOp.EQ, value) for key, value in values.items()]

    # -- expectations ------------------------------------------------------------------------------

    def expect(self, step: Step) -> list[Problem]:
        """Check every expectation of an ``expect`` step; one problem per kind that differs."""
        problems = []
        for key, expected in step.args.items():
            position = step.positions.get(key, step.position)
            try:
                found = getattr(self, f"expect_{key}")(expected)
            except RecordError as exc:
                problems.append(Problem(position, f"cannot check {key}: {exc}"))
                continue
            if found is not None:
                problems.append(Problem(position, f"{key} differ", tuple(found)))
        return problems

    def field_value(self, name: str, field_name: str) -> Any:
        """A field as a scenario writes it: owner and users as e-mails, lookups as @name."""
        object, record_id = self.record(name)
        record = self.platform.records.get(object, record_id, actor=SYSTEM)
        if field_name == "owner":
            return self.email_of(record.get("owner_id"))
        if field_name not in record:
            known = ", ".join(sorted(k for k in record if not k.startswith("_")))
            return f"<no field '{field_name}' on {object}; fields: {known}>"
        value = record[field_name]
        obj = self.platform.blueprint.object(object)
        if obj.has_field(field_name):
            definition = obj.field(field_name)
            if definition.type is FieldType.USER:
                return self.email_of(value)
            if definition.type is FieldType.LOOKUP and value is not None:
                named = self.name_of(definition.to, value)
                return f"@{named}" if named and " " not in named else named
        return value

    def expect_records(self, expected: dict[str, dict[str, Any]]) -> list[str] | None:
        """Diff of the named records' fields, or ``None`` when all hold."""
        for name in expected:
            if name.removeprefix("@") not in self.names:
                return [f"+ no record named @{name.removeprefix('@')}"]
        return compare.compare_fields({k.removeprefix("@"): v for k, v in expected.items()}, self.field_value)

    def expect_count(self, expected: list[dict[str, Any]]) -> list[str] | None:
        """Diff of record counts per object and filter, or ``None`` when all hold."""
        expected_lines, actual_lines = [], []
        for item in expected:
            filters = self.filters(item["object"], item.get("where", {}))
            found = self.platform.records.count(item["object"], actor=SYSTEM, filters=filters)
            if found != item["is"]:
                where = ", ".join(f"{k}: {compare.show(v)}" for k, v in item.get("where", {}).items())
                label = f"{item['object']} where {{{where}}}"
                expected_lines.append(f"{label}: {item['is']}")
                actual_lines.append(f"{label}: {found}")
        return compare.diff(expected_lines, actual_lines) if expected_lines else None

    def _on(self, object: str | None, record_id: int | None) -> str | None:
        return self.name_of(object, record_id)

    def expect_tasks(self, expected: list[dict[str, Any]]) -> list[str] | None:
        """Diff of every task of the scenario, or ``None`` when they are exactly the expected ones."""
        actual = [
            {
                "title": t.title,
                "on": self._on(t.object, t.record_id),
                "assignee": self.email_of(t.assignee_id),
                "due": t.due_at,
                "done": t.done_at is not None,
                "rule": t.rule,
            }
            for t in sorted(self.platform.inbox.tasks(), key=lambda t: t.id)
        ]
        return compare.compare_items(_strip(expected), actual, ("title", "on", "assignee"))

    def expect_notifications(self, expected: list[dict[str, Any]]) -> list[str] | None:
        """Diff of every notification of the scenario's users, or ``None`` when exactly as expected."""
        found = [
            n for uid in self.users.values() for n in self.platform.inbox.notifications(uid, limit=10_000)
        ]
        actual = [
            {
                "to": self.email_of(n.user_id),
                "message": n.message,
                "on": self._on(n.object, n.record_id),
                "rule": n.rule,
            }
            for n in sorted(found, key=lambda n: n.id)
        ]
        return compare.compare_items(_strip(expected), actual, ("to", "message"))

    def expect_outbox(self, expected: list[dict[str, Any]]) -> list[str] | None:
        """Diff of every e-mail and webhook in the outbox, or ``None`` when exactly as expected."""
        actual = [
            {
                "kind": d.kind,
                "to": d.target,
                "subject": d.subject,
                "on": self._on(d.object, d.record_id),
                "rule": d.rule,
            }
            for d in self.platform.outbox.deliveries()
        ]
        return compare.compare_items(_strip(expected), actual, ("kind", "to", "rule"))

    def expect_approvals(self, expected: list[dict[str, Any]]) -> list[str] | None:
        """Diff of the approval requests on named records, or ``None`` when exactly as expected."""
        flows = {flow.object for flow in self.platform.blueprint.approvals}
        actual = []
        for name, (object, record_id) in self.names.items():
            if object not in flows:
                continue
            for request in self.platform.approvals.requests(object, record_id):
                actual.append(
                    {
                        "on": name,
                        "approval": request.approval,
                        "status": request.status.value,
                        "step": request.step.name,
                        "approvers": [self.email_of(uid) for uid in request.approvers],
                    }
                )
        return compare.compare_items(_strip(expected), actual, ("on", "status", "step"))


def _strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record references may be written ``@deal`` or ``deal``; compare them bare."""
    return [
        {k: v.removeprefix("@") if k == "on" and isinstance(v, str) else v for k, v in item.items()}
        for item in items
    ]


def error_text(error: Exception) -> str:
    """An error as a one-line text: its code and its per-field messages (or its message)."""
    code = getattr(error, "code", "error")
    fields = getattr(error, "fields", None)
    detail = "; ".join(f"{k}: {v}" for k, v in fields.items()) if fields else str(error)
    return f"[{code}] {detail}"


def describe_error(spec: ErrorSpec) -> str:
    """The expected error of a step in words, for "expected ..., but it succeeded"."""
    parts = [f"code {spec.code}"] if spec.code else []
    if spec.message:
        parts.append(f"message containing '{spec.message}'")
    parts += [f"{k}: '{v}'" for k, v in spec.fields.items()]
    return "an error (" + ", ".join(parts) + ")" if parts else "an error"


def error_mismatch(spec: ErrorSpec, error: Exception) -> list[str]:
    """Diff lines when ``error`` is not the expected one; empty when it is."""
    code = getattr(error, "code", "error")
    fields: dict[str, str] = dict(getattr(error, "fields", {}) or {})
    expected_lines, actual_lines = [], []
    if spec.code is not None and spec.code != code:
        expected_lines.append(f"code: {spec.code}")
        actual_lines.append(f"code: {code}")
    if spec.message is not None and spec.message not in str(error):
        expected_lines.append(f"message contains: {spec.message}")
        actual_lines.append(f"message: {error}")
    for name, words in spec.fields.items():
        if words not in fields.get(name, ""):
            expected_lines.append(f"fields.{name} contains: {words}")
            actual_lines.append(f"fields.{name}: {fields.get(name, '<no error on this field>')}")
    return compare.diff(expected_lines, actual_lines) if expected_lines else []
