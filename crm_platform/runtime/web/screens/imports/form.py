"""The forms of ``/import``: the uploaded file, and the mapping a dry run or a run is asked for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePath

from starlette.datastructures import FormData, UploadFile

from crm_platform.metadata.model import ObjectDef
from crm_platform.runtime.imports import ImportOptions
from crm_platform.runtime.imports.reading import Sheet
from crm_platform.runtime.web.screens.imports.pages import MAX_BYTES, Choice


class Refused(Exception):
    """The mapping form cannot be imported as sent: the message says why."""


async def read_upload(form: FormData, limit: int = MAX_BYTES) -> tuple[str, bytes | None, str]:
    """The file's name, its bytes (at most one more than ``limit``) and the chosen object."""
    chosen = str(form.get("object", ""))
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return "", None, chosen
    data = await file.read(limit + 1)
    return PurePath(file.filename.replace("\\", "/")).name, data, chosen


def import_options(
    obj: ObjectDef,
    sheet: Sheet,
    form: FormData,
    choices: Sequence[Choice],
    _: Callable[[str], str],
    *,
    dry_run: bool,
) -> ImportOptions:
    """What the mapping form asks for (``col-<i>`` = field or "", ``key``), checked against the
    fields the user may fill; :class:`Refused` with the reason (in the user's language) otherwise."""
    fields = {c.value: c.label for c in choices}
    overrides: dict[str, str] = {}
    taken: dict[str, str] = {}
    for index, column in enumerate(sheet.header):
        target = str(form.get(f"col-{index}", ""))
        if target and target not in fields:
            raise Refused(_("Column %(column)s: pick one of the fields you may fill.") % {"column": column})
        if target in taken:
            raise Refused(
                _("Columns %(first)s and %(second)s both fill %(field)s: leave one of them out.")
                % {"first": taken[target], "second": column, "field": fields[target]}
            )
        if target:
            taken[target] = column
        overrides[column] = target
    if not taken:
        raise Refused(_("No column is imported: pick a field for at least one column."))
    key = str(form.get("key", "")) or None
    if key is not None and key not in taken:
        raise Refused(_("The key field must be filled by one of the columns."))
    return ImportOptions(obj.name, mapping=overrides, key=key, dry_run=dry_run)
