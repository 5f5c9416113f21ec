"""``/import``: upload a CSV or .xlsx file, map its columns, dry run, run, and the history.

The steps, all server-rendered forms (the upload is ``multipart/form-data`` with
``csrf_token`` as its first field, which the CSRF middleware reads):

- ``GET /import``, ``POST /import``: pick an object the user may create, upload the file
  (at most :data:`.pages.MAX_BYTES` and :data:`.pages.MAX_ROWS` rows; larger files are
  for ``crm import``); the file is kept by :class:`.uploads.UploadStore`;
- ``GET /import/{upload}``: each column, three samples, the field it fills (pre-set to
  the core's auto-match), an optional key field;
- ``POST /import/{upload}/dry-run``: the summary and the row errors, nothing changed;
- ``POST /import/{upload}/run``: the import, in the request, then ``/import/runs/{id}``;
- ``GET /import/runs/{id}/errors.csv``: the rejected rows, for the user who ran it only;
- ``GET /import/history``: the latest imports (a user's own; admins see everyone's).

Every row goes through the record service as the signed-in user (the core does it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Action, ObjectDef, Scope
from crm_platform.runtime.errors import ForbiddenError, NotFoundError
from crm_platform.runtime.imports import Importer, ImportJob, ImportOptions, ImportRefused, write_errors
from crm_platform.runtime.imports.columns import MappingError, match_columns
from crm_platform.runtime.imports.reading import Sheet, SheetError, read_sheet
from crm_platform.runtime.web.auth.backend import Principal
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.imports.form import Refused, import_options, read_upload
from crm_platform.runtime.web.screens.imports.pages import (
    MAX_BYTES,
    MAX_MIB,
    MAX_ROWS,
    Choice,
    HistoryPage,
    MappingColumn,
    MappingPage,
    RunPage,
    UploadPage,
    history_lines,
    key_fields,
    report_page,
    samples,
    summary_of,
    writable_fields,
)
from crm_platform.runtime.web.screens.imports.uploads import Upload, UploadStore, default_root

_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
#: Room for the other fields of the upload form besides the file.
_FORM_OVERHEAD = 64 * 1024


class ImportScreens:
    """Routes of ``/import``."""

    def __init__(self, screens: Screens, store: UploadStore | None = None) -> None:
        self.screens = screens
        self.importer = Importer(screens.services.records)
        self.store = store or UploadStore(default_root())

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/import", self.start, methods=["GET"], name="import"),
            Route("/import", self.upload, methods=["POST"], name="import_upload"),
            Route("/import/history", self.history, methods=["GET"], name="import_history"),
            Route("/import/runs/{id:int}", self.run_page, methods=["GET"], name="import_run"),
            Route("/import/runs/{id:int}/errors.csv", self.errors, methods=["GET"], name="import_errors"),
            Route("/import/{upload}", self.mapping, methods=["GET"], name="import_mapping"),
            Route("/import/{upload}/dry-run", self.dry_run, methods=["POST"], name="import_dry_run"),
            Route("/import/{upload}/run", self.run, methods=["POST"], name="import_run_post"),
        ]

    # -- shared --------------------------------------------------------------------------------

    def _words(self, request: Request) -> Callable[[str], str]:
        return catalogues()[self.screens.language(request)].gettext

    def _label(self, request: Request, name: str) -> str:
        for obj in self.screens.blueprint.objects:
            if obj.name == name:
                return blueprint_label(obj, self.screens.language(request))
        return name

    def _creatable(self, request: Request) -> tuple[Choice, ...]:
        """The objects the user may create: the only ones they may import into."""
        actor = self.screens.actor(request)
        language = self.screens.language(request)
        records = self.screens.services.records
        return tuple(
            Choice(obj.name, blueprint_label(obj, language))
            for obj in self.screens.blueprint.objects
            if records.access(obj.name, actor=actor).scope(Action.CREATE) is not Scope.NONE
        )

    def _gate(self, request: Request) -> tuple[Principal, tuple[Choice, ...]]:
        """The signed-in user and their objects; the 403 page for a user who may create nothing."""
        principal = self.screens.principal(request)
        choices = self._creatable(request)
        if not choices and not principal.actor.is_admin:
            _ = self._words(request)
            raise ForbiddenError(_("You may not create records, so you cannot import."))
        return principal, choices

    def _upload(self, request: Request) -> tuple[Upload, ObjectDef]:
        """The upload named in the URL, of this session; a 404 page otherwise."""
        principal, choices = self._gate(request)
        session_id = principal.session.id if principal.session is not None else ""
        upload = self.store.load(
            request.path_params["upload"], user_id=principal.user.id, session_id=session_id
        )
        if upload is None:
            _ = self._words(request)
            message = _("This upload is gone: upload the file again.")
            raise NotFoundError("import", None, message)
        if upload.object not in {c.value for c in choices}:
            _ = self._words(request)
            raise ForbiddenError(_("You may not create records of this object."))
        return upload, self.screens.object(upload.object)

    # -- step 1: upload ------------------------------------------------------------------------

    async def _upload_page(
        self,
        request: Request,
        choices: tuple[Choice, ...],
        chosen: str = "",
        error: str = "",
        status: int = 200,
    ) -> Response:
        page = UploadPage(choices, chosen, error, MAX_MIB, MAX_ROWS)
        _ = self._words(request)
        title = _("Import")
        return await self.screens.render(
            request, "screens/imports/upload.html", page, title=title, status=status
        )

    async def start(self, request: Request) -> Response:
        _principal, choices = self._gate(request)
        return await self._upload_page(request, choices, request.query_params.get("object", ""))

    async def upload(self, request: Request) -> Response:
        principal, choices = self._gate(request)
        _ = self._words(request)
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > MAX_BYTES + _FORM_OVERHEAD:
            error = _("The file is larger than %(mib)s MiB: split it, or use crm import.") % {"mib": MAX_MIB}
            return await self._upload_page(request, choices, error=error, status=413)
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                name, data, chosen = await read_upload(form, MAX_BYTES)
        except MultiPartException:  # a malformed multipart body
            return await self._upload_page(
                request, choices, error=_("Choose a CSV or .xlsx file."), status=400
            )
        if chosen not in {c.value for c in choices}:
            if any(obj.name == chosen for obj in self.screens.blueprint.objects):
                raise ForbiddenError(_("You may not create records of this object."))
            return await self._upload_page(request, choices, error=_("Pick what to import."), status=422)
        if data is None or not name:
            return await self._upload_page(request, choices, chosen, _("Choose a CSV or .xlsx file."), 422)
        if len(data) > MAX_BYTES:
            error = _("The file is larger than %(mib)s MiB: split it, or use crm import.") % {"mib": MAX_MIB}
            return await self._upload_page(request, choices, chosen, error, 413)
        if not name.lower().endswith(_SUFFIXES):
            error = _("%(name)s is not a CSV or .xlsx file.") % {"name": name}
            return await self._upload_page(request, choices, chosen, error, 422)
        try:
            sheet = await run_in_threadpool(read_sheet, data, name)
        except SheetError as exc:
            error = _("%(name)s cannot be read: %(why)s") % {"name": name, "why": exc}
            return await self._upload_page(request, choices, chosen, error, 422)
        if not sheet.rows:
            error = _("%(name)s has no rows below its header.") % {"name": name}
            return await self._upload_page(request, choices, chosen, error, 422)
        if len(sheet.rows) > MAX_ROWS:
            error = _(
                "%(name)s has %(rows)s rows; this page imports up to %(max)s. "
                "Use crm import for larger files."
            ) % {"name": name, "rows": len(sheet.rows), "max": MAX_ROWS}
            return await self._upload_page(request, choices, chosen, error, 422)
        session_id = principal.session.id if principal.session is not None else ""
        saved = await run_in_threadpool(
            self.store.save,
            data,
            name,
            object=chosen,
            user_id=principal.user.id,
            session_id=session_id,
            now=self.screens.settings.clock(),
        )
        return RedirectResponse(f"/import/{saved.id}", status_code=303)

    # -- step 2: mapping -----------------------------------------------------------------------

    def _mapping_page(
        self,
        request: Request,
        upload: Upload,
        obj: ObjectDef,
        sheet: Sheet,
        form: FormData | None,
        error: str,
    ) -> MappingPage:
        language = self.screens.language(request)
        fields = writable_fields(obj, self.screens.access(request, obj.name), language)
        allowed = {c.value for c in fields}
        try:
            auto = match_columns(obj, sheet.header, {})
            matched, how = auto.fields, auto.how
        except MappingError:
            matched, how = {}, {}
        columns = []
        for index, column in enumerate(sheet.header):
            if form is not None:
                selected = str(form.get(f"col-{index}", ""))
                kind = "chosen" if selected else ""
            else:
                selected = matched.get(column, "")
                selected = selected if selected in allowed else ""
                kind = how.get(column, "") if selected else ""
            columns.append(MappingColumn(index, column, samples(sheet.rows, index), selected, kind))
        key = str(form.get("key", "")) if form is not None else ""
        return MappingPage(
            upload.id,
            upload.file_name,
            blueprint_label(obj, language),
            len(sheet.rows),
            tuple(columns),
            fields,
            key_fields(obj, fields),
            key,
            error,
            MAX_ROWS,
        )

    async def _render_mapping(
        self, request: Request, upload: Upload, obj: ObjectDef, form: FormData | None, error: str, status: int
    ) -> Response:
        sheet = await run_in_threadpool(read_sheet, upload.data, upload.file_name)
        page = self._mapping_page(request, upload, obj, sheet, form, error)
        _ = self._words(request)
        title = _("Import")
        return await self.screens.render(
            request, "screens/imports/mapping.html", page, title=title, status=status
        )

    async def mapping(self, request: Request) -> Response:
        upload, obj = self._upload(request)
        return await self._render_mapping(request, upload, obj, None, "", 200)

    def _options(
        self, request: Request, obj: ObjectDef, sheet: Sheet, form: FormData, dry_run: bool
    ) -> ImportOptions:
        """The import the mapping form asks for; :class:`Refused` with the reason when it cannot be."""
        language = self.screens.language(request)
        fields = writable_fields(obj, self.screens.access(request, obj.name), language)
        return import_options(obj, sheet, form, fields, self._words(request), dry_run=dry_run)

    async def _prepared(
        self, request: Request, dry_run: bool
    ) -> tuple[Upload, ObjectDef, FormData, ImportJob | str]:
        upload, obj = self._upload(request)
        form = await request.form()
        sheet = await run_in_threadpool(read_sheet, upload.data, upload.file_name)
        try:
            options = self._options(request, obj, sheet, form, dry_run)
            job = await run_in_threadpool(self.importer.prepare, upload.data, upload.file_name, options)
        except (Refused, ImportRefused) as exc:
            return upload, obj, form, str(exc)
        return upload, obj, form, job

    # -- step 3: dry run; step 4: run ----------------------------------------------------------

    async def dry_run(self, request: Request) -> Response:
        upload, obj, form, job = await self._prepared(request, dry_run=True)
        if isinstance(job, str):
            return await self._render_mapping(request, upload, obj, form, job, 422)
        actor = self.screens.actor(request)
        report = await run_in_threadpool(self.importer.run, job, actor=actor)
        carry = {k: str(v) for k, v in form.multi_items() if k.startswith("col-") or k == "key"}
        page = report_page(
            upload.id, upload.file_name, blueprint_label(obj, self.screens.language(request)), report, carry
        )
        _ = self._words(request)
        title = _("Dry run")
        return await self.screens.render(request, "screens/imports/report.html", page, title=title)

    async def run(self, request: Request) -> Response:
        upload, obj, form, job = await self._prepared(request, dry_run=False)
        if isinstance(job, str):
            return await self._render_mapping(request, upload, obj, form, job, 422)
        actor = self.screens.actor(request)
        report = await run_in_threadpool(self.importer.run, job, actor=actor)
        assert report.run is not None
        target = self.store.errors_file(report.run.id)
        if report.errors:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            header = job.sheet.header
            await run_in_threadpool(
                write_errors, target, header, report.errors, append=bool(report.resumed_from)
            )
        self.store.discard(upload.id)
        return RedirectResponse(f"/import/runs/{report.run.id}", status_code=303)

    # -- after the run -------------------------------------------------------------------------

    async def run_page(self, request: Request) -> Response:
        principal = self.screens.principal(request)
        run = await run_in_threadpool(self.importer.log.get, int(request.path_params["id"]))
        if run is None or (run.started_by != principal.user.id and not principal.actor.is_admin):
            _ = self._words(request)
            raise NotFoundError("import", request.path_params["id"], _("No such import."))
        mine = run.started_by == principal.user.id
        errors_url = (
            f"/import/runs/{run.id}/errors.csv" if mine and self.store.errors_file(run.id).is_file() else ""
        )
        names = await run_in_threadpool(self.screens.services.users.names, [run.started_by or 0])
        page = RunPage(
            run,
            self._label(request, run.object),
            summary_of(run.counts),
            errors_url,
            f"/o/{run.object}",
            names.get(run.started_by or 0, ""),
        )
        _ = self._words(request)
        title = _("Import")
        return await self.screens.render(request, "screens/imports/run.html", page, title=title)

    async def errors(self, request: Request) -> Response:
        principal = self.screens.principal(request)
        run = await run_in_threadpool(self.importer.log.get, int(request.path_params["id"]))
        target = self.store.errors_file(run.id) if run is not None else None
        if run is None or target is None or run.started_by != principal.user.id or not target.is_file():
            _ = self._words(request)
            raise NotFoundError("import", request.path_params["id"], _("No such errors file."))
        name = f"{PurePath(run.file_name).stem or 'import'}.errors.csv"
        return FileResponse(target, media_type="text/csv; charset=utf-8", filename=name)

    async def history(self, request: Request) -> Response:
        principal = self.screens.principal(request)
        everyone = principal.actor.is_admin
        runs = await run_in_threadpool(self.importer.log.history, limit=100 if everyone else 1000)
        if not everyone:
            runs = [run for run in runs if run.started_by == principal.user.id][:100]
        ids = {run.started_by for run in runs if run.started_by is not None}
        names = await run_in_threadpool(self.screens.services.users.names, ids)
        page = HistoryPage(history_lines(runs, names, lambda name: self._label(request, name)), everyone)
        _ = self._words(request)
        title = _("Import history")
        return await self.screens.render(request, "screens/imports/history.html", page, title=title)
