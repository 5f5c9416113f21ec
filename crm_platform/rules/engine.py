"""The rule engine: event rules fire inside the write that triggered them.

:class:`RuleEngine` compiles a blueprint's enabled rules once, indexes the event rules
by object and kind of write, and subscribes to the record service's events. A write
made anywhere (a screen, the API, an import, another rule's action) publishes an
event inside its transaction; the engine finds the rules it triggers:

- ``created``, ``updated`` (a write that changed something), ``deleted``;
- ``OBJECT.FIELD changes [from X] [to Y]``: an update that changed that field, from
  and to the given values (a create is not a change: ``created`` and ``enters stage``
  cover new records, and a new order would otherwise announce its default status twice);
- ``enters stage S``: the stage field changed to S, or the record was created in S;

checks the rule's ``if`` condition on the record as it is after the write, and runs
the actions in order (:mod:`.actions`). Rules run in blueprint order; a later rule
sees what an earlier one changed (the owner an ``assign`` set, say). Any failure
raises a :class:`RuleActionError` naming the rule, which rolls the triggering write
back. A rule's write that triggers rules that write again is one level deeper; past
``max_depth`` levels the engine raises :class:`CascadeLimitError` with the chain of
rules, and the write is undone.

The time-rule scheduler runs the actions of its rules through :meth:`RuleEngine.fire`.

Example::

    engine = RuleEngine(blueprint, records, inbox, outbox, approvals=approvals)
    detach = engine.attach(records.events)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import RecordError
from crm_platform.runtime.events import EventBus, EventKind, RecordEvent
from crm_platform.runtime.messaging.inbox import Inbox
from crm_platform.runtime.messaging.outbox import Outbox
from crm_platform.runtime.records.service import RecordService

from . import ast
from .actions import ActionError, Actions, ApprovalStarter, Firing
from .compiled import CompiledRule, compile_blueprint_rules
from .evaluate import Evaluator
from .failures import CascadeLimitError, RuleActionError
from .recipients import RecipientError

log = logging.getLogger(__name__)

#: ``connection.info`` key: the rules firing on that connection, outermost first.
CHAIN_KEY = "crm_rule_chain"
#: Errors of an action that are the action's fault (anything else is reported with a note).
_ACTION_ERRORS = (
    RecordError,
    ActionError,
    RecipientError,
    ValueError,
    TypeError,
    ArithmeticError,
    LookupError,
)


def _same(value: Any, literal: ast.Literal) -> bool:
    """Whether a stored value equals a literal of the rule text (``changes to "signed"``)."""
    if value is None:
        return False
    wanted = literal.value
    if literal.kind == "boolean" or isinstance(value, bool):
        return value is wanted
    if literal.kind == "number":
        try:
            return Decimal(str(value)) == Decimal(str(wanted))
        except InvalidOperation:
            return False
    if isinstance(value, dt.datetime):
        try:
            parsed = dt.datetime.fromisoformat(str(wanted))
        except ValueError:
            return False
        return value == (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat() == str(wanted)
    return str(value) == str(wanted)


class _Slot:
    """The event rules of one object and one kind of write: always candidates, or by changed field."""

    def __init__(self) -> None:
        self.always: list[CompiledRule] = []
        self.by_field: dict[str, list[CompiledRule]] = defaultdict(list)

    def candidates(self, changed: frozenset[str]) -> list[CompiledRule]:
        found = list(self.always)
        if self.by_field:
            for name in changed & self.by_field.keys():
                found.extend(self.by_field[name])
            if len(found) > 1:
                found.sort(key=lambda rule: rule.index)  # blueprint order, whichever list it came from
        return found


#: Told of each firing: the rule, the object's name and the record's id.
FiringListener = Callable[[CompiledRule, str, int], None]


class RuleEngine:
    """Runs a blueprint's rules through the record service and the runtime services."""

    def __init__(
        self,
        blueprint: Blueprint,
        records: RecordService,
        inbox: Inbox,
        outbox: Outbox,
        *,
        approvals: ApprovalStarter | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        max_depth: int = 8,
    ) -> None:
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {max_depth}")
        self.blueprint = blueprint
        self.records = records
        self.inbox = inbox
        self.outbox = outbox
        self.clock = clock or records.clock
        self.max_depth = max_depth
        self.rules: list[CompiledRule] = compile_blueprint_rules(blueprint)
        self.evaluator = Evaluator()
        self.actions = Actions(
            blueprint, records, inbox, outbox, approvals=approvals, evaluator=self.evaluator
        )
        self._slots: dict[tuple[str, EventKind], _Slot] = {}
        self._listeners: list[FiringListener] = []
        for rule in self.event_rules:
            self._index(rule)

    def on_fired(self, listener: FiringListener) -> Callable[[], None]:
        """Call ``listener(rule, object, record_id)`` after each rule's actions ran; returns a remover.

        It runs inside the write's (or batch's) transaction, which may still roll back:
        a listener that counts firings should keep only those of steps that succeeded.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def event_rules(self) -> list[CompiledRule]:
        """The rules a record write fires."""
        return [rule for rule in self.rules if not rule.rule.is_time_based]

    @property
    def time_rules(self) -> list[CompiledRule]:
        """The rules the scheduler fires (idle, date offsets, schedules)."""
        return [rule for rule in self.rules if rule.rule.is_time_based]

    def _slot(self, object: str, kind: EventKind) -> _Slot:
        return self._slots.setdefault((object, kind), _Slot())

    def _index(self, compiled: CompiledRule) -> None:
        rule = compiled.rule
        match rule.trigger:
            case ast.RecordEvent(event=event):
                self._slot(rule.object, EventKind(event)).always.append(compiled)
            case ast.FieldChange(field=name):
                self._slot(rule.object, EventKind.UPDATED).by_field[name].append(compiled)
            case ast.StageEntered():
                stage_field = self.blueprint.object(rule.object).stage_field
                if stage_field is not None:
                    self._slot(rule.object, EventKind.UPDATED).by_field[stage_field.name].append(compiled)
                    self._slot(rule.object, EventKind.CREATED).by_field[stage_field.name].append(compiled)

    def attach(self, events: EventBus) -> Callable[[], None]:
        """Fire the event rules on every record event of ``events``; returns the detach function.

        Without event rules nothing is subscribed, so writes cost what they cost without rules.
        """
        if not self._slots:
            return lambda: None
        return events.subscribe(self.handle)

    # -- matching -------------------------------------------------------------------------------

    def triggered(self, event: RecordEvent) -> list[CompiledRule]:
        """The rules whose trigger ``event`` meets (their conditions not yet checked)."""
        slot = self._slots.get((event.object, event.kind))
        if slot is None:
            return []
        return [rule for rule in slot.candidates(event.changed) if self._meets(rule, event)]

    def _meets(self, compiled: CompiledRule, event: RecordEvent) -> bool:
        trigger = compiled.rule.trigger
        after = event.after or {}
        match trigger:
            case ast.RecordEvent():
                return True
            case ast.FieldChange(field=name, from_value=old, to_value=new):
                before = event.before or {}
                return (old is None or _same(before.get(name), old)) and (
                    new is None or _same(after.get(name), new)
                )
            case ast.StageEntered(stage=stage):
                stage_field = self.blueprint.object(compiled.rule.object).stage_field
                return stage_field is not None and after.get(stage_field.name) == stage
        return False  # pragma: no cover - time triggers are never indexed

    def condition_holds(self, compiled: CompiledRule, record: dict[str, Any], now: dt.datetime) -> bool:
        """Whether the rule's ``if`` condition is true for ``record`` (no condition: true)."""
        condition = compiled.rule.condition
        if condition is None or condition.expression is None:
            return True
        try:
            return bool(self.evaluator.evaluate(condition.expression, record, today=now.date(), now=now))
        except ValueError as exc:
            raise RuleActionError(
                compiled, 0, str(exc), object=compiled.rule.object, record_id=record.get("id"), cause=exc
            ) from exc

    # -- firing ---------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return self.clock().astimezone(dt.UTC)

    def handle(self, event: RecordEvent) -> None:
        """Fire the rules ``event`` triggers, in blueprint order, on the write's connection."""
        slot = self._slots.get((event.object, event.kind))
        if slot is None:
            return  # the common case: nothing listens to this object and kind of write
        rules = self.triggered(event)
        if not rules:
            return
        record = event.after if event.after is not None else event.before
        assert record is not None
        now = self._now()
        for compiled in rules:
            if not self.condition_holds(compiled, record, now):
                continue
            if event.depth >= self.max_depth:
                raise CascadeLimitError(self.max_depth, event.connection.info.get(CHAIN_KEY, ()), compiled)
            record = self._run(
                compiled,
                record,
                connection=event.connection,
                actor=SYSTEM,
                event=event.kind.value,
                cause=event.actor,
            )

    def fire(
        self,
        rule: CompiledRule,
        record: dict[str, Any],
        *,
        connection: sa.Connection,
        actor: Actor = SYSTEM,
        reason: str = "",
        event: str = "scheduled",
    ) -> None:
        """Run every action of ``rule`` for ``record`` on ``connection`` (its condition is not checked).

        The time-rule scheduler calls this once per record and episode; ``reason`` (e.g.
        "idle since 2024-05-01") becomes the default notification text and part of the
        idempotency key of e-mails and webhooks. Raises :class:`RuleActionError` naming
        the rule when an action fails; the caller decides what to roll back.
        """
        self._run(rule, record, connection=connection, actor=actor, event=event, reason=reason)

    def _run(
        self,
        compiled: CompiledRule,
        record: dict[str, Any],
        *,
        connection: sa.Connection,
        actor: Actor,
        event: str,
        reason: str = "",
        cause: Actor | None = None,
    ) -> dict[str, Any]:
        """Run the actions; returns the record as it is afterwards (for the next rule)."""
        obj = self.blueprint.object(compiled.rule.object)
        firing = Firing(
            compiled, obj, dict(record), connection, actor, self._now(), event, reason, cause or actor
        )
        chain: list[str] = connection.info.setdefault(CHAIN_KEY, [])
        chain.append(f"{compiled.key} on {obj.name} {firing.record_id}")
        try:
            for number, action in enumerate(compiled.rule.actions, start=1):
                try:
                    self.actions.run(action, firing, number)
                except (RuleActionError, CascadeLimitError):
                    raise  # a rule further down the cascade failed; its error names it
                except _ACTION_ERRORS as exc:
                    message = getattr(exc, "message", None) or str(exc)
                    raise RuleActionError(
                        compiled, number, message, object=obj.name, record_id=firing.record_id, cause=exc
                    ) from exc
                except Exception as exc:
                    # Database errors keep their type (callers may retry them); the note says where.
                    exc.add_note(f"while running action {number} of {compiled}")
                    raise
        finally:
            chain.pop()
        log.debug("%s fired on %s %s", compiled, obj.name, firing.record_id)
        for listener in self._listeners:
            listener(compiled, obj.name, firing.record_id)
        return firing.record
