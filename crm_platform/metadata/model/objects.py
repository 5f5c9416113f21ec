"""Objects: fields, forms, list views, stages and the roles its fields play."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .fields import Field, FieldType, FilterOp, Label, Position
from .process import DuplicateRules, FieldValue, ObjectAction, Rollup, Stage


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
class FieldRoles:
    """What some fields mean to the platform, declared per object (defaults decided once, in ``build``).

    Screens, reports, rules and approvals ask these instead of guessing by name.
    """

    #: The money field boards sum, the funnel and the approvals inbox show (``amount_field``).
    amount: str | None = None
    #: The lookup named on cards next to the amount, e.g. the customer (``party_field``).
    party: str | None = None
    #: The multi-choice field shown as tags (``tags_field``).
    tags: str | None = None
    #: The e-mail field (or a lookup to a record with one) ``email contact`` writes to (``contact_field``).
    contact: str | None = None
    #: The choice field that groups the contact map (``role_field``).
    role: str | None = None
    #: The boolean field marking the primary record in related lists (``primary_field``).
    primary: str | None = None
    #: The text field shown under the title in related lists and the contact map (``subtitle_field``).
    subtitle: str | None = None
    #: The fields kanban cards and phone lists show under the title (``card``).
    card: tuple[str, ...] = ()


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
    roles: FieldRoles = FieldRoles()
    #: What ``move to pool`` sets besides clearing the owner (``pool:``).
    pool: tuple[FieldValue, ...] = ()
    actions: tuple[ObjectAction, ...] = ()
    rollups: tuple[Rollup, ...] = ()
    duplicates: DuplicateRules | None = None
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

    def action(self, name: str) -> ObjectAction:
        """The action called ``name``; ``KeyError`` when there is none."""
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)

    def rollup(self, name: str) -> Rollup:
        """The roll-up called ``name``; ``KeyError`` when there is none."""
        for rollup in self.rollups:
            if rollup.name == name:
                return rollup
        raise KeyError(name)

    def has_rollup(self, name: str) -> bool:
        return any(r.name == name for r in self.rollups)

    def form(self, name: str = "default") -> Form | None:
        return next((f for f in self.forms if f.name == name), self.forms[0] if self.forms else None)

    def label_for(self, language: str) -> str:
        return self.label.get(language, self.name.replace("_", " ").capitalize())
