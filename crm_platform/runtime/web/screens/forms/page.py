"""What the create and edit forms show: the page context of ``screens/form.html``."""

from __future__ import annotations

from dataclasses import dataclass

from crm_platform.metadata.model import ObjectDef
from crm_platform.runtime.web.screens.forms.conflict import ConflictView
from crm_platform.runtime.web.screens.forms.fields import FieldView


@dataclass(frozen=True)
class DuplicateView:
    """A readable record the new one looks like, as the duplicate panel lists it."""

    object: str
    id: int
    #: The record's title and its object's label.
    title: str
    object_label: str
    url: str
    #: Labels of the fields that match ("Email, Company").
    fields: str
    #: Whether it is of the form's own object (then it can be merged with the new record).
    same_object: bool


@dataclass(frozen=True)
class DuplicatePanel:
    """ "Possible duplicate of …" after a save attempt that matches: nothing is saved yet."""

    matches: tuple[DuplicateView, ...]


@dataclass(frozen=True)
class SectionView:
    """A section of the form as drawn."""

    #: The section's label ("" for none).
    label: str
    #: 1 or 2 (one column at ≤ 720 px either way).
    columns: int
    fields: tuple[FieldView, ...]


@dataclass(frozen=True)
class ErrorItem:
    """One line of the error summary: a link to the field when it is on the form."""

    #: ``#f-amount`` for a field on the form, "" otherwise.
    anchor: str
    #: The field's label ("" when the error is not about a field).
    label: str
    message: str


@dataclass(frozen=True)
class FormPage:
    """The create or edit form."""

    #: The object being created or edited.
    obj: ObjectDef
    #: ``create`` or ``edit``.
    mode: str
    #: Where the form posts to.
    action: str
    #: Where Cancel leads (the list, or the record page).
    cancel_url: str
    #: The object's list URL and plural label (the breadcrumb).
    list_url: str
    plural: str
    sections: tuple[SectionView, ...]
    #: Every error, for the summary on top (empty when none).
    summary: tuple[ErrorItem, ...] = ()
    #: A message not about a field (the approval lock after a save), "" when none.
    message: str = ""
    #: The version the edit form edits (``None`` on create).
    version: str | None = None
    #: The edited record's id (``None`` on create).
    record_id: int | None = None
    #: Who changed the record meanwhile and how their values differ from mine (409 only).
    conflict: ConflictView | None = None
    #: Why the record cannot be edited now (a pending approval); the form is disabled. "" when editable.
    locked: str = ""
    #: The first field in form order with an error (it gets ``autofocus``), "" when none.
    first_error: str = ""
    #: The records the values look like (create only, before "Save anyway"); ``None`` when none.
    duplicates: DuplicatePanel | None = None
    #: The user chose "Save anyway": a refused save re-renders without asking again.
    save_anyway: bool = False
