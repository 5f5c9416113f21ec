"""Moving a card to another stage, and the drawer that asks for what the stage still needs.

The move is an ordinary update through the record service, so the stage's entry
criteria (required fields and tasks), its gate (``from:``, ``requires_approval:``),
the approval lock, optimistic locking and permissions all apply. A refusal
becomes a :class:`Drawer`: the message, one input per missing field (keeping
what was typed) and the other problems; a closed gate is the message itself, in
the user's language, and filling fields cannot lift it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_platform.metadata.model import Field, FieldType, ObjectDef, Stage
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import (
    ConflictError,
    NotFoundError,
    RecordLockedError,
    StateError,
    ValidationError,
)
from crm_platform.runtime.process.stages import StageGateError, gate_message
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.screens.record.path import gate_text
from crm_platform.runtime.web.screens.values import record_title
from crm_platform.runtime.web.services import Services

#: Most records a lookup's drop-down offers in the drawer.
LOOKUP_CHOICES = 200

_INPUT_KINDS = {
    FieldType.TEXT: "text",
    FieldType.LONG_TEXT: "textarea",
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.URL: "url",
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "number",
    FieldType.MONEY: "number",
    FieldType.PERCENT: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
    FieldType.BOOLEAN: "checkbox",
    FieldType.CHOICE: "select",
    FieldType.LOOKUP: "select",
    FieldType.USER: "select",
}
_STEPS = {FieldType.INTEGER: "1", FieldType.MONEY: "0.01"}


@dataclass(frozen=True)
class DrawerInput:
    """One input of the drawer: a field the stage needs."""

    name: str
    label: str
    #: ``text``, ``textarea``, ``number``, ``date``, ``select``, ``checkbox``, ...
    kind: str
    value: str
    error: str
    #: (value, label) of a select's options.
    choices: tuple[tuple[str, str], ...] = ()
    step: str | None = None


@dataclass(frozen=True)
class Drawer:
    """A refused move, asking for what is missing (a form posting the move again)."""

    record_id: int
    version: str
    stage: str
    stage_label: str
    title: str
    message: str
    inputs: tuple[DrawerInput, ...]
    #: Problems without an input here (tasks to finish, a stale version), as text.
    problems: tuple[str, ...]
    #: Whether submitting again can succeed (not for a stale version or a locked record).
    can_retry: bool
    record_url: str
    board_url: str
    move_url: str
    csrf_token: str


@dataclass(frozen=True)
class MoveOutcome:
    """What a move did: the record after it, or the refusal's status, message, fields and drawer."""

    record: dict[str, Any] | None
    status: int = 200
    message: str = ""
    fields: Mapping[str, str] | None = None
    drawer: Drawer | None = None

    @property
    def ok(self) -> bool:
        return self.record is not None


def _form_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else ""
    return str(value)


class CardMover:
    """Moves one card for one user, in their language."""

    def __init__(self, services: Services, obj: ObjectDef, actor: Actor, language: str, csrf_token: str):
        self.services = services
        self.records = services.records
        self.obj = obj
        self.actor = actor
        self.language = language
        self.csrf_token = csrf_token
        self.words = catalogues()[language]
        stage_field = obj.stage_field
        assert stage_field is not None
        self.stage_field = stage_field

    def _(self, message: str, **values: Any) -> str:
        text = self.words.gettext(message)
        return text % values if values else text

    def move(self, form: Mapping[str, str]) -> MoveOutcome:
        """Move the card ``form["id"]`` (as of ``form["version"]``) to ``form["stage"]``.

        Values of the target stage's required fields in ``form`` are written with
        the move (the drawer's inputs); other form fields are ignored.
        """
        raw_id = str(form.get("id", "")).strip()
        if not raw_id.isdigit():
            raise NotFoundError(self.obj.name, raw_id)
        record_id = int(raw_id)
        target = str(form.get("stage", ""))
        stage = next((s for s in self.obj.stages if s.name == target), None)
        version = str(form.get("version", ""))
        values: dict[str, Any] = {self.stage_field.name: target}
        if stage is not None:
            for name in stage.requires:
                if name in form and self.obj.has_field(name):
                    values[name] = self._value(self.obj.field(name), form[name])
        try:
            record = self.records.update(self.obj.name, record_id, values, version=version, actor=self.actor)
        except StageGateError as exc:
            gate = gate_text(self.records.blueprint, self.obj, exc.stage, self.language)
            english = gate_message(self.records.blueprint, self.obj, exc.stage)
            errors = dict(exc.fields)
            rest = errors.pop(self.stage_field.name, "")[len(english) :].lstrip("; ")
            if rest:
                errors[self.stage_field.name] = rest
            fields = {**errors, self.stage_field.name: gate}
            return self._refused(422, record_id, version, target, form, errors, gate, fields, retry=False)
        except ValidationError as exc:
            return self._refused(422, record_id, version, target, form, exc.fields, retry=True)
        except ConflictError as exc:
            message = self._(
                "Someone else changed this record since the board was loaded. Reload the board and try again."
            )
            fields = {"version": f"is {exc.current_version} now"}
            return self._refused(409, record_id, version, target, form, {}, message, fields, retry=False)
        except RecordLockedError as exc:
            message = self._("This record is locked while an approval is pending.")
            return self._refused(
                409, record_id, version, target, form, {}, message, {}, retry=False, why=exc.message
            )
        except StateError as exc:
            return self._refused(409, record_id, version, target, form, {}, exc.message, {}, retry=False)
        return MoveOutcome(record)

    def _value(self, field: Field, raw: str) -> Any:
        if field.value_type is FieldType.BOOLEAN:
            return raw not in ("", "false", "0", "off")
        return raw if raw.strip() != "" else None

    def _refused(
        self,
        status: int,
        record_id: int,
        version: str,
        target: str,
        form: Mapping[str, str],
        errors: Mapping[str, str],
        message: str | None = None,
        fields: Mapping[str, str] | None = None,
        *,
        retry: bool,
        why: str | None = None,
    ) -> MoveOutcome:
        # Read the record as the user sees it (a record outside their scope is a 404 page by now).
        record = self.records.get(self.obj.name, record_id, actor=self.actor)
        stage = next((s for s in self.obj.stages if s.name == target), None)
        stage_label = self._stage_label(stage, target)
        title = record_title(self.obj, record)
        inputs: list[DrawerInput] = []
        problems: list[str] = [why] if why else []
        hidden = self.records.access(self.obj.name, actor=self.actor).rules
        # The stage's fields the drawer asked for stay in it (with what was typed), then other problems.
        asked = [n for n in (stage.requires if stage is not None else ()) if n in errors or n in form]
        for name in [*asked, *(n for n in errors if n not in asked)]:
            problem = errors.get(name, "")
            if name == self.stage_field.name or not self.obj.has_field(name):
                problems.append(problem if name == self.stage_field.name else f"{name}: {problem}")
                continue
            field = self.obj.field(name)
            kind = _INPUT_KINDS.get(field.value_type)
            if kind is None or name in hidden.hidden or name in hidden.read_only or field.is_computed:
                problems.append(f"{field.label_for(self.language)}: {problem}")
                continue
            required_here = stage is not None and name in stage.requires and problem.startswith("is required")
            inputs.append(
                DrawerInput(
                    name=name,
                    label=field.label_for(self.language),
                    kind=kind,
                    value=str(form[name]) if name in form else _form_text(record.get(name)),
                    error=self._("Required to enter this stage") if required_here else problem,
                    choices=self._choices(field),
                    step=_STEPS.get(field.value_type, "any" if kind == "number" else None),
                )
            )
        if message is None:
            message = self._("“%(title)s” cannot enter %(stage)s yet.", title=title, stage=stage_label)
        drawer = Drawer(
            record_id=record_id,
            version=version,
            stage=target,
            stage_label=stage_label,
            title=title,
            message=message,
            inputs=tuple(inputs),
            problems=tuple(problems),
            can_retry=retry,
            record_url=f"/o/{self.obj.name}/{record_id}",
            board_url=f"/o/{self.obj.name}/board",
            move_url=f"/o/{self.obj.name}/board/move",
            csrf_token=self.csrf_token,
        )
        return MoveOutcome(None, status, message, dict(fields if fields is not None else errors), drawer)

    def _stage_label(self, stage: Stage | None, name: str) -> str:
        if stage is None:
            return name
        return stage.label.get(self.language, stage.name.replace("_", " ").capitalize())

    def _choices(self, field: Field) -> tuple[tuple[str, str], ...]:
        if field.value_type is FieldType.CHOICE:
            return tuple((c.name, c.label.get(self.language, c.name)) for c in field.choices)
        if field.type is FieldType.LOOKUP and field.to:
            target = self.services.records.blueprint.object(field.to)
            page = self.records.list(field.to, actor=self.actor, sort=[target.title], limit=LOOKUP_CHOICES)
            return tuple((str(r["id"]), record_title(target, r)) for r in page.records)
        if field.type is FieldType.USER:
            return tuple((str(u.id), u.name or u.email) for u in self.services.users.active_users())
        return ()
