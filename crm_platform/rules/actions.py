"""What each rule action does, through the record service and the runtime services.

Every action works on the connection of the write that triggered the rule, so its
effects commit or roll back with that write:

- ``set``, ``assign ...``, ``move to pool`` and ``create OBJECT {...}`` write through the
  :class:`~crm_platform.runtime.records.service.RecordService` (validation, history, and the
  rules those writes trigger in turn);
- ``notify`` and ``create task`` write notifications and tasks (the inbox);
- ``email`` and ``call webhook`` write outbox rows, delivered after commit;
- ``start approval`` asks the approval service to start a flow.

An action that cannot be carried out raises; the engine names the rule in the error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm_platform.metadata.expressions import Expression
from crm_platform.metadata.model import Blueprint, ObjectDef
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import Outbox, json_ready
from crm_platform.runtime.records.service import RecordService

from . import ast
from .ast import _recipient as describe_recipient
from .compiled import CompiledRule
from .evaluate import Evaluator
from .recipients import Person, RecipientError, Recipients
from .render import Renderer

log = logging.getLogger(__name__)

Record = dict[str, Any]


class ApprovalStarter(Protocol):
    """The part of the approval service the ``start approval`` action needs."""

    def start(
        self, name: str, object: str, record_id: int, *, actor: Actor, connection: sa.Connection
    ) -> Any: ...


class ActionError(Exception):
    """An action cannot be carried out; the message says why (the engine adds the rule)."""


@dataclass
class Firing:
    """One rule firing for one record: what the actions read and update as they go.

    ``record`` is refreshed after every action that writes, so the next action (and
    the next rule) sees the owner a previous ``assign`` set.
    """

    rule: CompiledRule
    obj: ObjectDef
    record: Record
    connection: sa.Connection
    actor: Actor
    now: dt.datetime
    #: What happened: created, updated, deleted (event rules) or scheduled (time rules).
    event: str
    reason: str = ""
    #: Whose write triggered the rule (the platform itself for time rules): the submitter
    #: of an approval the rule starts. The rule's own writes are made as ``actor``.
    cause: Actor = SYSTEM

    @property
    def record_id(self) -> int:
        return int(self.record["id"])

    def key(self, action: int, *parts: object) -> str:
        """An idempotency key: the same for the same rule, record version, occasion and target."""
        raw = "|".join(
            str(part)
            for part in (
                self.rule.key,
                self.obj.name,
                self.record_id,
                self.record.get("version"),
                self.event,
                self.reason,
                action,
                *parts,
            )
        )
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:48]


class Actions:
    """Carries out actions for one blueprint."""

    def __init__(
        self,
        blueprint: Blueprint,
        records: RecordService,
        inbox: Inbox,
        outbox: Outbox,
        *,
        approvals: ApprovalStarter | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.blueprint = blueprint
        self.evaluator = evaluator or Evaluator()
        self.records = records
        self.inbox = inbox
        self.outbox = outbox
        self.approvals = approvals
        self.tables = records.tables
        self.recipients = Recipients(blueprint, self.tables)
        self.renderer = Renderer(blueprint, self.tables)
        self._handlers: dict[type, Callable[[Any, Firing, int], None]] = {
            ast.Notify: self.notify,
            ast.Email: self.email,
            ast.CreateTask: self.create_task,
            ast.CreateRecord: self.create_record,
            ast.SetField: self.set_field,
            ast.AssignTo: self.assign_to,
            ast.AssignBy: self.assign_by,
            ast.AssignRoundRobin: self.assign_round_robin,
            ast.MoveToPool: self.move_to_pool,
            ast.StartApproval: self.start_approval,
            ast.CallWebhook: self.call_webhook,
        }

    def run(self, action: ast.Action, firing: Firing, number: int) -> None:
        """Carry out ``action`` (number ``number`` of its rule, from 1) for ``firing``."""
        self._handlers[type(action)](action, firing, number)

    # -- helpers ----------------------------------------------------------------------------------

    def _evaluate(self, expr: ast.Expr, firing: Firing) -> Any:
        expression: Expression | None = expr.expression
        if expression is None:  # pragma: no cover - the parser always attaches the expression
            raise ActionError(f"expression '{expr.text}' was not parsed")
        return self.evaluator.evaluate(expression, firing.record, today=firing.now.date(), now=firing.now)

    def _fill(self, text: str, firing: Firing) -> str:
        return self.renderer.fill(firing.connection, text, firing.obj, firing.record)

    def _update(self, firing: Firing, changes: dict[str, Any]) -> None:
        current = firing.record
        self.records.update(
            firing.obj.name,
            firing.record_id,
            changes,
            version=current["version"],
            actor=firing.actor,
            connection=firing.connection,
        )
        self._refresh(firing)

    def _refresh(self, firing: Firing) -> None:
        # Re-read rather than keep the update's result: rules fired by that update may
        # have changed the record again before it returned.
        firing.record = self.records.get(
            firing.obj.name,
            firing.record_id,
            actor=firing.actor,
            include_deleted=True,
            connection=firing.connection,
        )

    def _one_user(self, people: list[Person], who: ast.Recipient, firing: Firing) -> int:
        if people and people[0].user_id is not None:
            return people[0].user_id
        if who.kind is ast.RecipientKind.MANAGER:
            why = "its owner has no active manager"
        else:
            why = f"its {who.name} is empty or not an active user"
        raise ActionError(
            f"cannot assign {firing.obj.name} {firing.record_id} to {describe_recipient(who)}: {why}"
        )

    def _default_message(self, firing: Firing) -> str:
        obj = firing.obj
        title = self.renderer.value(firing.connection, obj, firing.record, obj.title) or ""
        why = firing.reason or firing.rule.text.replace("→", "->").split("->")[0].strip()
        return f'{obj.label_for("en")} "{title}": {why}'

    # -- inbox ------------------------------------------------------------------------------------

    def notify(self, action: ast.Notify, firing: Firing, number: int) -> None:
        people = self.recipients.users(firing.connection, action.recipient, firing.obj, firing.record)
        if not people:
            log.info("%s: nobody to notify for %s %s", firing.rule, firing.obj.name, firing.record_id)
            return
        message = (
            self._fill(action.message.value, firing) if action.message else self._default_message(firing)
        )
        self.inbox.notify(
            [p.user_id for p in people if p.user_id is not None],
            message,
            object=firing.obj.name,
            record_id=firing.record_id,
            rule=firing.rule.key,
            connection=firing.connection,
        )

    def create_task(self, action: ast.CreateTask, firing: Firing, number: int) -> None:
        if action.assignee is None:
            owner = self.recipients.user(firing.connection, firing.record.get("owner_id"))
            assignees: list[int | None] = [owner.user_id if owner else None]
        else:
            people = self.recipients.users(firing.connection, action.assignee, firing.obj, firing.record)
            # Nobody to give it to still leaves the task on the record, for whoever picks it up.
            assignees = [p.user_id for p in people] or [None]
        due = None if action.due_days is None else firing.now + dt.timedelta(days=action.due_days)
        title = self._fill(action.title.value, firing)
        for assignee in assignees:
            self.inbox.create_task(
                title,
                assignee_id=assignee,
                object=firing.obj.name,
                record_id=firing.record_id,
                due_at=due,
                rule=firing.rule.key,
                created_by=firing.actor.user_id,
                connection=firing.connection,
            )

    # -- outbox -----------------------------------------------------------------------------------

    def email(self, action: ast.Email, firing: Firing, number: int) -> None:
        template = self.blueprint.template(action.template)
        people = self.recipients.addresses(firing.connection, action.recipient, firing.obj, firing.record)
        if not people:
            log.warning(
                "%s: no e-mail address for %s %s; nothing sent",
                firing.rule,
                firing.obj.name,
                firing.record_id,
            )
            return
        for person in people:
            address = str(person.email)
            self.outbox.enqueue_email(
                address,
                self._fill(template.subject.get(person.language), firing),
                self._fill(template.body.get(person.language), firing),
                idempotency_key=firing.key(number, address),
                language=person.language,
                rule=firing.rule.key,
                object=firing.obj.name,
                record_id=firing.record_id,
                connection=firing.connection,
            )

    def call_webhook(self, action: ast.CallWebhook, firing: Firing, number: int) -> None:
        webhook = self.blueprint.webhook(action.webhook)
        payload = {
            "event": firing.event,
            "rule": firing.rule.key,
            "object": firing.obj.name,
            "id": firing.record_id,
            "record": json_ready(firing.record),
        }
        self.outbox.enqueue_webhook(
            webhook.name,
            webhook.url,
            payload,
            idempotency_key=firing.key(number, webhook.name),
            rule=firing.rule.key,
            object=firing.obj.name,
            record_id=firing.record_id,
            connection=firing.connection,
        )

    # -- record writes ----------------------------------------------------------------------------

    def set_field(self, action: ast.SetField, firing: Firing, number: int) -> None:
        self._update(firing, {action.field: self._evaluate(action.value, firing)})

    def create_record(self, action: ast.CreateRecord, firing: Firing, number: int) -> None:
        values = {item.field: self._evaluate(item.value, firing) for item in action.values}
        # The new record belongs to whoever owns the one it came from (the rep sees the onboarding ticket).
        values.setdefault("owner_id", firing.record.get("owner_id"))
        self.records.create(action.object, values, actor=firing.actor, connection=firing.connection)

    def assign_to(self, action: ast.AssignTo, firing: Firing, number: int) -> None:
        people = self.recipients.users(firing.connection, action.recipient, firing.obj, firing.record)
        self._update(firing, {"owner_id": self._one_user(people, action.recipient, firing)})

    def assign_by(self, action: ast.AssignBy, firing: Firing, number: int) -> None:
        table = next(
            (
                t
                for t in self.blueprint.assignments
                if t.object == firing.obj.name and t.field == action.field
            ),
            None,
        )
        if table is None:  # pragma: no cover - the checker refuses such rules
            raise ActionError(f"no assignment table for {firing.obj.name}.{action.field}")
        value = firing.record.get(action.field)
        mapped = next((e.user for e in table.entries if value is not None and e.value == str(value)), None)
        candidates = [email for email in (mapped, table.default) if email]
        if not candidates:
            raise ActionError(
                f"assignment table '{table.name}' has no entry for {action.field} = "
                f"{'empty' if value is None else repr(value)} and no default"
            )
        for email in candidates:
            person = self.recipients.user_by_email(firing.connection, email)
            if person is not None:
                if email != candidates[0]:
                    log.warning(
                        "%s: %s is not an active user; assigned to the default %s", firing.rule, mapped, email
                    )
                self._update(firing, {"owner_id": person.user_id})
                return
        shown = "an empty " + action.field if value is None else f"{action.field} = {value!r}"
        raise ActionError(
            f"assignment table '{table.name}' gives {shown} to {' or '.join(candidates)}, "
            "who is not an active user; add them with 'crm user add'"
        )

    def assign_round_robin(self, action: ast.AssignRoundRobin, firing: Firing, number: int) -> None:
        who = ast.Recipient(
            ast.RecipientKind.TEAM if action.group == "team" else ast.RecipientKind.ROLE, action.name
        )
        people = self.recipients.users(firing.connection, who, firing.obj, firing.record)
        if not people:
            raise ActionError(f"{action.group} '{action.name}' has no active members to assign to")
        turn = self._next_turn(firing.connection, f"round_robin:{action.group}:{action.name}")
        person = people[(turn - 1) % len(people)]
        self._update(firing, {"owner_id": person.user_id})

    def _next_turn(self, conn: sa.Connection, name: str) -> int:
        """Count turns in ``crm_sequences``; the row lock makes concurrent assignments take turns."""
        sequences = self.tables.sequences
        dialect = conn.dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = (
                insert(sequences)
                .values(name=name, value=1)
                .on_conflict_do_update(
                    index_elements=[sequences.c.name], set_={"value": sequences.c.value + 1}
                )
                .returning(sequences.c.value)
            )
            return int(conn.execute(statement).scalar_one())
        bump = (
            sequences.update().where(sequences.c.name == name).values(value=sequences.c.value + 1)
        )  # pragma: no cover
        if conn.execute(bump).rowcount == 0:  # pragma: no cover
            conn.execute(sequences.insert().values(name=name, value=1))
        return int(
            conn.execute(sa.select(sequences.c.value).where(sequences.c.name == name)).scalar_one()
        )  # pragma: no cover

    def move_to_pool(self, action: ast.MoveToPool, firing: Firing, number: int) -> None:
        """Clear the owner and set what the object's ``pool:`` declares (nothing else without one).

        Before ``pool:`` existed this set ``status`` to ``pool`` whenever the object had a
        ``status`` choice with a ``pool`` choice; the shipped blueprints now declare exactly that.
        """
        changes: dict[str, Any] = {"owner_id": None}
        changes.update((value.field, value.value) for value in firing.obj.pool)
        self._update(firing, changes)

    def start_approval(self, action: ast.StartApproval, firing: Firing, number: int) -> None:
        if self.approvals is None:
            raise ActionError(
                f"cannot start approval '{action.approval}': the rule engine was built without an "
                "approval service (pass approvals= to RuleEngine)"
            )
        self.approvals.start(
            action.approval,
            firing.obj.name,
            firing.record_id,
            actor=firing.cause,
            connection=firing.connection,
        )
        self._refresh(firing)


__all__ = ["ActionError", "Actions", "ApprovalStarter", "Firing", "RecipientError"]
