"""The rule language's syntax tree: frozen dataclasses that keep their positions.

``line`` and ``column`` (from 1, within the rule text) say where a node starts;
nodes that name something in the blueprint also keep ``name_column``, the column of
that name, so the checker can point exactly at ``propsal`` in
``enters stage propsal``. Positions take no part in equality, so tests and callers
can compare trees written by hand.

:func:`describe` says in plain English how a rule was understood.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crm_platform.metadata.expressions import Expression


@dataclass(frozen=True)
class Node:
    """Base of every node: where it starts in the rule text."""

    line: int = field(default=1, compare=False, kw_only=True)
    column: int = field(default=1, compare=False, kw_only=True)


def _position() -> int:
    return field(default=0, compare=False, kw_only=True)


# ------------------------------------------------------------------ pieces


@dataclass(frozen=True)
class Literal(Node):
    """A value a field changes from or to. ``kind``: text, number, boolean or word.

    A word is a bare name (``changes to won``); it compares like a text.
    """

    value: str | Decimal | int | bool
    kind: str = "text"


@dataclass(frozen=True)
class Placeholder(Node):
    """``{field}`` inside a quoted text."""

    name: str


@dataclass(frozen=True)
class Text(Node):
    """A quoted text (escapes resolved) and the ``{field}`` placeholders in it."""

    value: str
    placeholders: tuple[Placeholder, ...] = ()


@dataclass(frozen=True)
class Expr(Node):
    """An expression (condition, ``set`` value, ``create`` value), parsed."""

    text: str
    expression: Expression | None = field(default=None, compare=False, repr=False)


class RecipientKind(StrEnum):
    """Who receives a notification, an e-mail or a task."""

    OWNER = "owner"
    MANAGER = "manager"  # the record owner's manager
    ROLE = "role"
    TEAM = "team"
    USER = "user"  # one user, by e-mail
    CONTACT = "contact"  # the record's contact e-mail
    FIELD = "field"  # the user in a user field of the record


@dataclass(frozen=True)
class Recipient(Node):
    """A recipient; ``name`` is the role, team, e-mail or field where the kind needs one."""

    kind: RecipientKind
    name: str | None = None
    name_column: int = _position()


# ------------------------------------------------------------------ triggers


@dataclass(frozen=True)
class RecordEvent(Node):
    """``created``, ``updated`` or ``deleted``."""

    event: str


@dataclass(frozen=True)
class FieldChange(Node):
    """``OBJECT.FIELD changes [from X] [to Y]``."""

    field: str
    from_value: Literal | None = None
    to_value: Literal | None = None
    name_column: int = _position()


@dataclass(frozen=True)
class StageEntered(Node):
    """``enters stage S``."""

    stage: str
    name_column: int = _position()


@dataclass(frozen=True)
class Idle(Node):
    """``idle N minutes|hours|days``: no follow-up and no edit for that long."""

    amount: int
    unit: str  # always plural: minutes, hours, days

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(**{self.unit: self.amount})


@dataclass(frozen=True)
class DateOffset(Node):
    """``N days before|after OBJECT.DATE_FIELD``."""

    days: int
    direction: str  # before | after
    field: str
    name_column: int = _position()


@dataclass(frozen=True)
class Schedule(Node):
    """``every day|weekday|monday.. at HH:MM``: once per matching record at that time."""

    period: str
    time: dt.time


Trigger = RecordEvent | FieldChange | StageEntered | Idle | DateOffset | Schedule
TIME_BASED = (Idle, DateOffset, Schedule)


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Notify(Node):
    """``notify RECIPIENT ["message with {field}"]``."""

    recipient: Recipient
    message: Text | None = None


@dataclass(frozen=True)
class Email(Node):
    """``email RECIPIENT "template"``."""

    recipient: Recipient
    template: str
    name_column: int = _position()


@dataclass(frozen=True)
class CreateTask(Node):
    """``create task "title" [for RECIPIENT] [due in N days]``."""

    title: Text
    assignee: Recipient | None = None
    due_days: int | None = None


@dataclass(frozen=True)
class FieldValue(Node):
    """``field: expression`` inside ``create OBJECT {...}``."""

    field: str
    value: Expr


@dataclass(frozen=True)
class CreateRecord(Node):
    """``create OBJECT {field: expr, ...}``; values read the triggering record."""

    object: str
    values: tuple[FieldValue, ...] = ()
    name_column: int = _position()


@dataclass(frozen=True)
class SetField(Node):
    """``set FIELD = EXPR``."""

    field: str
    value: Expr
    name_column: int = _position()


@dataclass(frozen=True)
class AssignTo(Node):
    """``assign to RECIPIENT``."""

    recipient: Recipient


@dataclass(frozen=True)
class AssignBy(Node):
    """``assign by FIELD``, through the blueprint's assignment table for that field."""

    field: str
    name_column: int = _position()


@dataclass(frozen=True)
class AssignRoundRobin(Node):
    """``assign round robin in team|role X``."""

    group: str  # team | role
    name: str
    name_column: int = _position()


@dataclass(frozen=True)
class MoveToPool(Node):
    """``move to pool``: the record loses its owner and goes back to the shared pool."""


@dataclass(frozen=True)
class StartApproval(Node):
    """``start approval NAME``."""

    approval: str
    name_column: int = _position()


@dataclass(frozen=True)
class CallWebhook(Node):
    """``call webhook NAME``."""

    webhook: str
    name_column: int = _position()


Action = (
    Notify
    | Email
    | CreateTask
    | CreateRecord
    | SetField
    | AssignTo
    | AssignBy
    | AssignRoundRobin
    | MoveToPool
    | StartApproval
    | CallWebhook
)


@dataclass(frozen=True)
class Rule(Node):
    """A whole rule: on ``object``, when ``trigger`` [and ``condition``], do ``actions``."""

    object: str
    trigger: Trigger
    condition: Expr | None
    actions: tuple[Action, ...]
    text: str = field(default="", compare=False)
    object_column: int = _position()

    @property
    def is_time_based(self) -> bool:
        """Fired by the scheduler (idle, date offsets, schedules), not by a record write."""
        return isinstance(self.trigger, TIME_BASED)


# ------------------------------------------------------------------ describe


def _a(noun: str) -> str:
    words = noun.replace("_", " ")
    return f"an {words}" if words[:1] in "aeiou" else f"a {words}"


def _unit(amount: int, plural: str) -> str:
    return f"{amount} {plural[:-1] if amount == 1 else plural}"


def _recipient(recipient: Recipient) -> str:
    match recipient.kind:
        case RecipientKind.OWNER:
            return "the owner"
        case RecipientKind.MANAGER:
            return "the owner's manager"
        case RecipientKind.ROLE:
            return f"everyone with the role {recipient.name}"
        case RecipientKind.TEAM:
            return f"the team {recipient.name}"
        case RecipientKind.USER:
            return str(recipient.name)
        case RecipientKind.CONTACT:
            return "the record's contact"
        case _:
            return f"the user in {recipient.name}"


def _trigger(rule: Rule) -> str:
    thing = _a(rule.object)
    match rule.trigger:
        case RecordEvent(event=event):
            return f"When {thing} is {event}"
        case FieldChange(field=name, from_value=old, to_value=new):
            change = f"When the {name} of {thing} changes"
            if old is not None:
                change += f" from {_literal(old)}"
            if new is not None:
                change += f" to {_literal(new)}"
            return change
        case StageEntered(stage=stage):
            return f"When {thing} enters the stage {stage}"
        case Idle(amount=amount, unit=unit):
            return f"When {thing} has had no follow-up and no edit for {_unit(amount, unit)}"
        case DateOffset(days=days, direction=direction, field=name):
            return f"{_unit(days, 'days').capitalize()} {direction} the {name} of {thing}"
        case Schedule(period=period, time=time):
            when = {"day": "day", "weekday": "weekday (Monday to Friday)"}.get(period, period.capitalize())
            return f"Every {when} at {time:%H:%M}, for each {rule.object.replace('_', ' ')}"
    raise AssertionError(rule.trigger)  # pragma: no cover - the union is exhaustive


def _literal(value: Literal) -> str:
    if value.kind == "text":
        return f'"{value.value}"'
    return str(value.value).lower() if value.kind == "boolean" else str(value.value)


def _action(action: Action) -> str:
    match action:
        case Notify(recipient=who, message=message):
            return f"notify {_recipient(who)}" + (f' with "{message.value}"' if message else "")
        case Email(recipient=who, template=template):
            return f"e-mail {_recipient(who)} the template {template}"
        case CreateTask(title=title, assignee=who, due_days=due):
            text = f'create the task "{title.value}"'
            text += f" for {_recipient(who)}" if who else ""
            return text + (f", due in {_unit(due, 'days')}" if due is not None else "")
        case CreateRecord(object=obj, values=values):
            pairs = ", ".join(f"{v.field} = {v.value.text}" for v in values)
            return f"create {_a(obj)}" + (f" with {pairs}" if pairs else "")
        case SetField(field=name, value=value):
            return f"set {name} to {value.text}"
        case AssignTo(recipient=who):
            return f"assign it to {_recipient(who)}"
        case AssignBy(field=name):
            return f"assign it by {name} (through the assignment table for {name})"
        case AssignRoundRobin(group=group, name=name):
            return f"assign it in turn to the members of the {group} {name}"
        case MoveToPool():
            return "move it to the pool (no owner)"
        case StartApproval(approval=name):
            return f"start the approval {name}"
        case CallWebhook(webhook=name):
            return f"call the webhook {name}"
    raise AssertionError(action)  # pragma: no cover - the union is exhaustive


def describe(rule: Rule) -> str:
    """How ``rule`` was understood, in plain English (for ``crm rules explain``).

    >>> describe(parse_rule("opportunity idle 3 days -> notify manager"))  # doctest: +SKIP
    "When an opportunity has had no follow-up and no edit for 3 days: notify the owner's manager"
    """
    head = _trigger(rule)
    if rule.condition is not None:
        head += f", if {rule.condition.text}"
    return f"{head}: {'; '.join(_action(a) for a in rule.actions)}"
