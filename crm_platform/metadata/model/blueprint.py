"""The whole validated blueprint."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .automation import AssignmentTable, RuleSource, Template, Webhook
from .fields import FieldType, Label
from .objects import ObjectDef
from .permissions import Grant
from .process import Approval, Conversion, RollupKind
from .public_forms import PublicForm


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
    conversions: tuple[Conversion, ...] = ()
    #: ``None`` when the blueprint has no ``permissions:`` section (nothing is restricted);
    #: otherwise every grant, and a role or object without one gets nothing.
    permissions: tuple[Grant, ...] | None = None
    #: ``public_forms:``, the pages anyone may fill in without signing in.
    public_forms: tuple[PublicForm, ...] = ()
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

    def rollup_type(self, object: str, name: str) -> FieldType | None:
        """The value type of roll-up ``name`` of ``object``.

        ``count`` is an integer; ``sum``, ``min`` and ``max`` have the type of the child field they
        fold (a formula's result type). ``None`` when the roll-up or its child field is unknown.
        """
        if not self.has_object(object) or not self.object(object).has_rollup(name):
            return None
        rollup = self.object(object).rollup(name)
        if rollup.kind is RollupKind.COUNT:
            return FieldType.INTEGER
        if rollup.field is None or not self.has_object(rollup.child):
            return None
        child = self.object(rollup.child)
        return child.field(rollup.field).value_type if child.has_field(rollup.field) else None

    def approval(self, name: str) -> Approval:
        for approval in self.approvals:
            if approval.name == name:
                return approval
        raise KeyError(name)

    def conversion(self, name: str) -> Conversion:
        for conversion in self.conversions:
            if conversion.name == name:
                return conversion
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

    def public_form(self, name: str) -> PublicForm:
        """The public form called ``name``; ``KeyError`` when there is none."""
        for form in self.public_forms:
            if form.name == name:
                return form
        raise KeyError(name)

    def assignment(self, name: str) -> AssignmentTable:
        for table in self.assignments:
            if table.name == name:
                return table
        raise KeyError(name)
