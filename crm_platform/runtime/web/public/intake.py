"""A post to a public form becomes one record, created as the form's own actor.

The record service checks everything as for any create (types, required fields, the
form actor's create-only permission) and publishes the write, so the rules run
(``lead created -> assign by region; notify owner``). In the same transaction a note on
the record's timeline says which form it came from and lists the duplicates the
object's declared ``duplicates:`` keys find: those are for the owner, never for the visitor.

Example::

    intake = FormIntake(records, sales.followups, sales.duplicates)
    intake.submit(blueprint.public_form("contact_us"), {"company": "Acme", "region": "east"})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crm_platform.metadata.model import PublicForm
from crm_platform.runtime.actors import SYSTEM, public_form_actor
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.process.followups import ActivityKind, FollowUps
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.db import write_transaction

#: "already used by account 12": the visitor must not learn which record holds a value.
_RECORD_NAMED = re.compile(r" by [a-z][a-z0-9_]* \d+")


def public_message(message: str) -> str:
    """A record-service message with any record it names left out."""
    return _RECORD_NAMED.sub("", message)


def form_values(form: PublicForm, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The asked fields of ``raw`` (others ignored), blanks left out, then the form's ``set`` values."""
    values: dict[str, Any] = {}
    for name in form.fields:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            values[name] = value
    values.update((item.field, item.value) for item in form.set)
    return values


class FormIntake:
    """Creates the records of public form posts and notes where each came from."""

    def __init__(self, records: RecordService, followups: FollowUps, finder: DuplicateFinder) -> None:
        self.records = records
        self.followups = followups
        self.finder = finder

    def submit(self, form: PublicForm, raw: Mapping[str, Any]) -> int:
        """Create the record of one post; returns its id (for the platform, never the visitor).

        Raises :class:`ValidationError` with every problem, keyed by field, the messages
        naming no other record.
        """
        values = form_values(form, raw)
        try:
            with write_transaction(self.records.engine) as conn:
                record = self.records.create(
                    form.object, values, actor=public_form_actor(form.name), connection=conn
                )
                matches = self.finder.of_record(form.object, record, connection=conn)
                body = "\n".join(f"Possible duplicate of {match.describe()}" for match in matches)
                self.followups.log(
                    form.object,
                    record["id"],
                    kind=ActivityKind.NOTE,
                    subject=f"Submitted through the public form '{form.name}'",
                    body=body or None,
                    actor=SYSTEM,
                    create_task=False,
                    connection=conn,
                )
        except ValidationError as exc:
            raise ValidationError({k: public_message(v) for k, v in exc.fields.items()}) from None
        return int(record["id"])
