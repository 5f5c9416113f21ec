"""The typed, frozen metadata model a validated blueprint becomes.

Nothing downstream of :mod:`crm_platform.metadata` sees raw YAML: the runtime
and the rules read these objects only. Every object keeps the position of the
YAML node it came from so that later checks (rules, migrations) can still point
at ``file:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

#: Columns every object table carries; blueprint fields may not use these names.
SYSTEM_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "owner_id",
    "version",
    "deleted_at",
    "touched_at",
)

#: Object names that would collide with platform tables, routes or concepts.
RESERVED_OBJECT_NAMES: frozenset[str] = frozenset(
    {
        "user",
        "users",
        "team",
        "teams",
        "role",
        "roles",
        "session",
        "sessions",
        "token",
        "tokens",
        "api",
        "static",
        "login",
        "logout",
        "admin",
        "record",
        "records",
        "history",
    }
)


class FieldType(StrEnum):
    """The field types a blueprint may declare."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    LOOKUP = "lookup"
    USER = "user"
    STAGE = "stage"
    AUTO_NUMBER = "auto_number"
    FORMULA = "formula"

    @property
    def is_numeric(self) -> bool:
        return self in NUMERIC_TYPES

    @property
    def is_textual(self) -> bool:
        return self in TEXTUAL_TYPES

    @property
    def is_temporal(self) -> bool:
        return self in (FieldType.DATE, FieldType.DATETIME)


NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT})
TEXTUAL_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.CHOICE,
        FieldType.STAGE,
        FieldType.AUTO_NUMBER,
    }
)
#: Types a formula may produce.
FORMULA_RESULT_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.MONEY,
        FieldType.PERCENT,
        FieldType.BOOLEAN,
        FieldType.DATE,
    }
)


class FilterOp(StrEnum):
    """Comparison operators shared by list views, the record service and the API."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    CONTAINS = "contains"
    #: Text without the value (empty text included); multi_choice with none of the choices.
    NOT_CONTAINS = "not_contains"
    #: ``true``: no value (NULL, empty text, no choice); ``false``: any value.
    EMPTY = "empty"
    #: Any of several text fields (``Condition("name|email", SEARCH, "acme")``) contains the value.
    SEARCH = "search"


class Outcome(StrEnum):
    """How a closing stage ends a pipeline."""

    WON = "won"
    LOST = "lost"


class ApproverKind(StrEnum):
    """Who decides an approval step."""

    MANAGER = "manager"  # the record owner's manager
    MANAGER_CHAIN = "manager_chain"  # each manager up the chain, in turn
    OWNER = "owner"
    ROLE = "role"
    USER = "user"


class ApprovalMode(StrEnum):
    """Whether one member of a role step suffices or all must approve."""

    ANY = "any"
    ALL = "all"


@dataclass(frozen=True)
class Position:
    """Where a node stands in its YAML file; lines and columns count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Label:
    """A bilingual label; either language may be missing."""

    en: str | None = None
    zh: str | None = None

    def get(self, language: str, fallback: str = "") -> str:
        """The label in ``language`` ("en" or "zh"), else the other one, else ``fallback``."""
        first, second = (self.zh, self.en) if language.startswith("zh") else (self.en, self.zh)
        return first or second or fallback


@dataclass(frozen=True)
class Choice:
    """One allowed value of a choice or multi_choice field."""

    name: str
    label: Label = Label()
    color: str | None = None


@dataclass(frozen=True)
class Field:
    """One field of an object, with its constraints."""

    name: str
    type: FieldType
    label: Label = Label()
    required: bool = False
    unique: bool = False
    indexed: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = None
    pattern: str | None = None
    #: Typed default: str, int, bool, Decimal, tuple of str, or the markers "today" / "now".
    default: Any = None
    choices: tuple[Choice, ...] = ()
    #: Target object of a lookup.
    to: str | None = None
    #: Expression of a formula field.
    formula: str | None = None
    #: Type of a formula's result.
    returns: FieldType | None = None
    #: Decimal places of decimal, money and percent fields.
    scale: int | None = None
    #: Prefix and width of an auto_number ("Q-" and 6 give "Q-000001").
    prefix: str = ""
    digits: int = 6
    help: Label = Label()
    position: Position | None = field(default=None, compare=False)

    @property
    def value_type(self) -> FieldType:
        """The type of the stored value (a formula's result type, else the field's type)."""
        if self.type is FieldType.FORMULA:
            return self.returns or FieldType.DECIMAL
        return self.type

    @property
    def is_computed(self) -> bool:
        """Values the platform sets, never the caller."""
        return self.type in (FieldType.FORMULA, FieldType.AUTO_NUMBER)

    @cached_property
    def choice_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.choices)

    def label_for(self, language: str) -> str:
        return self.label.get(language, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class FormSection:
    """A titled group of fields on a form, in display order."""

    fields: tuple[str, ...]
    label: Label = Label()
    columns: int = 2
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Form:
    """A named layout of an object's fields."""

    name: str
    sections: tuple[FormSection, ...]
    label: Label = Label()
    position: Position | None = field(default=None, compare=False)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for section in self.sections for name in section.fields)


@dataclass(frozen=True)
class SortKey:
    """One column of a sort order."""

    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class Condition:
    """A filter: ``field op value``."""

    field: str
    op: FilterOp
    value: Any


@dataclass(frozen=True)
class ListView:
    """A saved list of an object's records: columns, default sort and filter."""

    name: str
    columns: tuple[str, ...]
    sort: tuple[SortKey, ...] = ()
    filters: tuple[Condition, ...] = ()
    label: Label = Label()
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Stage:
    """One stage of an object's pipeline."""

    name: str
    label: Label = Label()
    probability: int | None = None
    outcome: Outcome | None = None
    #: Fields that must be filled to enter the stage.
    requires: tuple[str, ...] = ()
    #: Titles of tasks that must be done before the stage can be entered.
    requires_tasks: tuple[str, ...] = ()
    #: Days in this stage after which a record counts as idle on boards.
    idle_days: int | None = None
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ObjectDef:
    """A business object: becomes a table, screens and API resources."""

    name: str
    title: str
    fields: tuple[Field, ...]
    label: Label = Label()
    plural: Label = Label()
    forms: tuple[Form, ...] = ()
    list_views: tuple[ListView, ...] = ()
    stages: tuple[Stage, ...] = ()
    position: Position | None = field(default=None, compare=False)

    @cached_property
    def _fields_by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        """The field called ``name``; ``KeyError`` when there is none."""
        return self._fields_by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._fields_by_name

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def stage_field(self) -> Field | None:
        """The object's stage field, if it has a pipeline."""
        return next((f for f in self.fields if f.type is FieldType.STAGE), None)

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def form(self, name: str = "default") -> Form | None:
        return next((f for f in self.forms if f.name == name), self.forms[0] if self.forms else None)

    def label_for(self, language: str) -> str:
        return self.label.get(language, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Approver:
    """Who decides a step: ``kind`` plus the role name or user e-mail where needed."""

    kind: ApproverKind
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.kind.value} {self.value}" if self.value else self.kind.value


@dataclass(frozen=True)
class FieldAssignment:
    """``field: expression`` applied when an approval ends."""

    field: str
    expression: str


@dataclass(frozen=True)
class ApprovalStep:
    """One step of an approval flow."""

    name: str
    approver: Approver
    condition: str | None = None
    mode: ApprovalMode = ApprovalMode.ANY
    #: Hours a step may wait before it escalates.
    escalate_after_hours: int | None = None
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What happens to the record when a flow is approved or rejected."""

    set: tuple[FieldAssignment, ...] = ()
    stage: str | None = None


@dataclass(frozen=True)
class Approval:
    """A multi-step approval flow on one object."""

    name: str
    object: str
    steps: tuple[ApprovalStep, ...]
    label: Label = Label()
    on_approve: ApprovalOutcome = ApprovalOutcome()
    on_reject: ApprovalOutcome = ApprovalOutcome()
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RuleSource:
    """A rule sentence as written; :mod:`crm_platform.rules` compiles it."""

    text: str
    name: str | None = None
    enabled: bool = True
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Template:
    """An e-mail template: subject and body with ``{field}`` placeholders."""

    name: str
    subject: Label
    body: Label
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Webhook:
    """An outgoing HTTP endpoint rules can call."""

    name: str
    url: str
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AssignmentEntry:
    """One row of an assignment table: a field value and the user who gets it."""

    value: str
    user: str


@dataclass(frozen=True)
class AssignmentTable:
    """Maps a field's values to users (``assign by region``)."""

    name: str
    object: str
    field: str
    entries: tuple[AssignmentEntry, ...]
    default: str | None = None
    position: Position | None = field(default=None, compare=False)


class Scope(StrEnum):
    """Which records a permission reaches: none, the actor's own, their team's, or all."""

    NONE = "none"
    OWN = "own"
    TEAM = "team"
    ALL = "all"


class Action(StrEnum):
    """What a role may do to records of an object."""

    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"


class FieldAccess(StrEnum):
    """A field-level restriction for a role: shown but not writable, or never shown."""

    READ_ONLY = "read_only"
    HIDDEN = "hidden"


#: The object name of a grant that covers every object.
EVERY_OBJECT = "*"


@dataclass(frozen=True)
class FieldGrant:
    """``fields: {amount: read_only}`` of a grant."""

    field: str
    access: FieldAccess
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Grant:
    """What ``role`` may do to records of ``object`` (``"*"``: every object); unnamed actions are none."""

    role: str
    object: str
    read: Scope = Scope.NONE
    create: Scope = Scope.NONE
    edit: Scope = Scope.NONE
    delete: Scope = Scope.NONE
    fields: tuple[FieldGrant, ...] = ()
    position: Position | None = field(default=None, compare=False)

    def scope(self, action: Action) -> Scope:
        """The scope this grant gives ``action``."""
        return Scope(getattr(self, action.value))


@dataclass(frozen=True)
class Blueprint:
    """A whole validated blueprint (after ``extends:`` was resolved)."""

    name: str
    version: int
    objects: tuple[ObjectDef, ...]
    label: Label = Label()
    roles: tuple[str, ...] = ()
    approvals: tuple[Approval, ...] = ()
    rules: tuple[RuleSource, ...] = ()
    templates: tuple[Template, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    assignments: tuple[AssignmentTable, ...] = ()
    #: ``None`` when the blueprint has no ``permissions:`` section (nothing is restricted);
    #: otherwise every grant, and a role or object without one gets nothing.
    permissions: tuple[Grant, ...] | None = None
    #: Name of the blueprint this one extends, if any.
    extends: str | None = None
    #: Every file that contributed, the extended ones first.
    sources: tuple[str, ...] = ()

    @cached_property
    def _objects_by_name(self) -> dict[str, ObjectDef]:
        return {o.name: o for o in self.objects}

    def object(self, name: str) -> ObjectDef:
        """The object called ``name``; ``KeyError`` when there is none."""
        return self._objects_by_name[name]

    def has_object(self, name: str) -> bool:
        return name in self._objects_by_name

    @property
    def object_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.objects)

    def approval(self, name: str) -> Approval:
        for approval in self.approvals:
            if approval.name == name:
                return approval
        raise KeyError(name)

    def template(self, name: str) -> Template:
        for template in self.templates:
            if template.name == name:
                return template
        raise KeyError(name)

    def webhook(self, name: str) -> Webhook:
        for webhook in self.webhooks:
            if webhook.name == name:
                return webhook
        raise KeyError(name)

    def assignment(self, name: str) -> AssignmentTable:
        for table in self.assignments:
            if table.name == name:
                return table
        raise KeyError(name)
