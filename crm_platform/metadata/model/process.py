"""Stages, approvals and the blueprint-declared processes that make records from records.

Conversions (``conversions:``), object actions (``actions:``), roll-ups
(``rollups:``) and duplicate rules (``duplicates:``) are data here; the
runtime's mapping, records and matching packages carry them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .fields import Label, Position


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
    #: ``from: [...]``: the only stages a record may come from (empty: any).
    from_stages: tuple[str, ...] = ()
    #: ``requires_approval: NAME``: entered only once that approval was approved for the record.
    requires_approval: str | None = None
    #: ``reason: FIELD``: the field that must say why (asked when a record enters a lost stage).
    reason: str | None = None
    position: Position | None = field(default=None, compare=False)


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
class FieldMap:
    """``target_field: source_field`` of a ``map:``: the new record's field takes the source's value."""

    target: str
    source: str
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FieldValue:
    """``field: value`` set on a record (a conversion's ``mark``, an object's ``pool``)."""

    field: str
    #: Typed like a field default (str, int, bool, Decimal); ``None`` clears the field.
    value: Any = None
    position: Position | None = field(default=None, compare=False)


class ExistingPolicy(StrEnum):
    """What a conversion target may use instead of a new record."""

    #: Only a new record.
    NEVER = "never"
    #: A record the duplicate rules find for the source (offered first), or any the user picks.
    DUPLICATES = "duplicates"


@dataclass(frozen=True)
class ConversionTarget:
    """One record a conversion makes (or reuses)."""

    object: str
    map: tuple[FieldMap, ...] = ()
    #: Same-named fields of the source that are not copied.
    no_copy: tuple[str, ...] = ()
    #: The user may leave this target out.
    optional: bool = False
    existing: ExistingPolicy = ExistingPolicy.NEVER
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Conversion:
    """``conversions: {name: {from, into, mark, open}}``: one record becomes one or more others."""

    name: str
    source: str
    targets: tuple[ConversionTarget, ...]
    label: Label = Label()
    #: Set on the source record once converted.
    mark: tuple[FieldValue, ...] = ()
    #: Which target's record the screen opens afterwards (``None``: the source again).
    open: str | None = None
    position: Position | None = field(default=None, compare=False)

    def target(self, object: str) -> ConversionTarget:
        """The target making records of ``object``; ``KeyError`` when there is none."""
        for target in self.targets:
            if target.object == object:
                return target
        raise KeyError(object)


@dataclass(frozen=True)
class ActionLines:
    """``lines: {from: child, to: child}``: each child of the source becomes a child of the new record."""

    source: str
    target: str
    map: tuple[FieldMap, ...] = ()
    no_copy: tuple[str, ...] = ()
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ObjectAction:
    """An object's ``actions: {name: {create, map, no_copy, lines, when}}``: "create X from this record"."""

    name: str
    #: The object the action is declared on (the source).
    object: str
    create: str
    label: Label = Label()
    map: tuple[FieldMap, ...] = ()
    no_copy: tuple[str, ...] = ()
    lines: ActionLines | None = None
    #: Expression over the source record; the action is offered only while it holds.
    when: str | None = None
    position: Position | None = field(default=None, compare=False)


class RollupKind(StrEnum):
    """How a roll-up folds the child records."""

    SUM = "sum"
    COUNT = "count"
    MIN = "min"
    MAX = "max"


@dataclass(frozen=True)
class Rollup:
    """``rollups: {name: {sum: child.field, via: lookup, where: cond}}``: a computed field over children."""

    name: str
    kind: RollupKind
    #: The child object.
    child: str
    #: The child's field folded (``None`` for ``count``).
    field: str | None
    #: The child's lookup that points at the parent.
    via: str
    #: Expression over the child record; only children where it holds count.
    where: str | None = None
    label: Label = Label()
    position: Position | None = field(default=None, compare=False)

    def label_for(self, language: str) -> str:
        return self.label.get(language, self.name.replace("_", " ").capitalize())


class MatchKind(StrEnum):
    """How a duplicate key's values are normalised before they are compared."""

    EXACT = "exact"
    #: Trimmed, lower-cased.
    EMAIL = "email"
    #: Digits only, the key's default country code dropped.
    PHONE = "phone"
    #: Case-folded, legal suffixes (有限公司, Ltd., GmbH ...) and punctuation removed.
    COMPANY_NAME = "company_name"


@dataclass(frozen=True)
class DuplicateKey:
    """One compared field and how it is matched."""

    field: str
    match: MatchKind
    #: ISO country of a phone key (``CN``: ``+86`` is dropped).
    country: str | None = None
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DuplicateRules:
    """``duplicates: {keys, compare_with}``: a new record is compared with its own object and these."""

    keys: tuple[DuplicateKey, ...]
    compare_with: tuple[str, ...] = ()
    position: Position | None = field(default=None, compare=False)
