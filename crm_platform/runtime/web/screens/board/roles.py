"""Which fields a board reads, from the object's declared field roles (never from field names).

The column sum is the amount role (``amount_field``), the name after it the party
role (``party_field``), the chips the tags role (``tags_field``) and further card
lines the ``card:`` list; a field hidden from the reader is never used.
"""

from __future__ import annotations

from collections.abc import Iterable

from crm_platform.metadata.model import Field, FieldType, ObjectDef
from crm_platform.runtime.errors import ForbiddenError
from crm_platform.runtime.records.permissions import Access


def board_field(obj: ObjectDef, access: Access) -> Field:
    """The object's stage field; :class:`ForbiddenError` when the user may not see it."""
    stage = obj.stage_field
    assert stage is not None
    if stage.name in access.rules.hidden:
        raise ForbiddenError(f"the stage of {obj.name} records is hidden from this role")
    return stage


def _role_field(obj: ObjectDef, access: Access, name: str | None) -> Field | None:
    if name is None or not obj.has_field(name) or name in access.rules.hidden:
        return None
    return obj.field(name)


def money_field(obj: ObjectDef, access: Access) -> Field | None:
    """The field a column sums: the object's amount role (``amount_field``), unless hidden."""
    found = _role_field(obj, access, obj.roles.amount)
    return found if found is not None and found.value_type.is_numeric else None


def party_field(obj: ObjectDef, access: Access) -> Field | None:
    """The lookup a card names after the amount: the object's party role (``party_field``)."""
    return _role_field(obj, access, obj.roles.party)


def tags_field(obj: ObjectDef, access: Access) -> Field | None:
    """The multi_choice field shown as a card's tags: the object's tags role (``tags_field``)."""
    found = _role_field(obj, access, obj.roles.tags)
    return found if found is not None and found.type is FieldType.MULTI_CHOICE else None


def extra_fields(obj: ObjectDef, access: Access, shown: Iterable[Field | None]) -> tuple[Field, ...]:
    """The ``card:`` fields not shown otherwise, in declared order.

    The amount, party and tags have their own places; platform columns such as
    ``owner_id`` are not fields (the owner is the card's avatar) and are left out.
    """
    taken = {f.name for f in shown if f is not None}
    found = (_role_field(obj, access, name) for name in obj.roles.card if name not in taken)
    return tuple(f for f in found if f is not None)
