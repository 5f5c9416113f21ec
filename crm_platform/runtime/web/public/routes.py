"""``GET``/``POST /f/NAME`` (the HTML form) and ``POST /api/v1/forms/NAME`` (JSON): no sign-in.

These are the only routes served to anyone; the app exempts exactly their paths from the
session CSRF check (there is no session to forge), and they carry their own protection:
a rate limit per form and client address, a honeypot field, a body size limit and, on
the HTML form, a signed render time. An answer never names the record made, its id or
its owner, and a honeypot post is answered exactly like a success.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from crm_platform.metadata.model import Blueprint, PublicForm
from crm_platform.runtime.errors import RecordError, ValidationError
from crm_platform.runtime.web.auth.login import browser_language
from crm_platform.runtime.web.errors import error_response
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.public.guard import (
    BodyTooLarge,
    Clock,
    FormLimiter,
    FormStamps,
    StampProblem,
    read_body,
)
from crm_platform.runtime.web.public.intake import FormIntake
from crm_platform.runtime.web.public.page import HONEYPOT, STAMP, content_security_policy, inputs
from crm_platform.runtime.web.services import Services

log = logging.getLogger(__name__)

_PROBLEMS = {
    StampProblem.MISSING: "The form expired: please send it again.",
    StampProblem.EARLY: "That was quick: please check the form and send it again.",
    StampProblem.EXPIRED: "The form expired: please send it again.",
}
_TOO_MANY = "Too many requests: please wait a minute and try again."
_TOO_LARGE = "The request is too large."
_NOT_ACCEPTED = "Your request could not be accepted: please try again later."


def language(request: Request) -> str:
    """``?lang=zh|en`` first, else the browser's preference (nobody is signed in)."""
    asked = request.query_params.get("lang", "")
    return asked if asked in ("en", "zh") else browser_language(request)


def _words(lang: str, message: str) -> str:
    return catalogues()[lang].gettext(message)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class PublicFormViews:
    """The public forms of one blueprint, served without sign-in."""

    def __init__(
        self,
        blueprint: Blueprint,
        intake: FormIntake,
        limiter: FormLimiter,
        stamps: FormStamps,
        templates: Mapping[str, Jinja2Templates],
    ) -> None:
        self.blueprint = blueprint
        self.intake = intake
        self.limiter = limiter
        self.stamps = stamps
        self.templates = templates

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/f/{name}", self.page, methods=["GET"], name="public_form"),
            Route("/f/{name}", self.post, methods=["POST"]),
        ]

    @property
    def api_routes(self) -> list[Route]:
        """Mounted under ``/api/v1``."""
        return [Route("/forms/{name}", self.api_post, methods=["POST"])]

    @property
    def paths(self) -> frozenset[str]:
        """The exact paths anyone may post to (exempt from the session CSRF check)."""
        names = [form.name for form in self.blueprint.public_forms]
        return frozenset({*(f"/f/{n}" for n in names), *(f"/api/v1/forms/{n}" for n in names)})

    def _form(self, request: Request) -> PublicForm | None:
        try:
            return self.blueprint.public_form(request.path_params["name"])
        except KeyError:
            return None

    # -- HTML ----------------------------------------------------------------------------------

    def _render(
        self,
        request: Request,
        form: PublicForm,
        *,
        status: int = 200,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        notice: str = "",
        thanks: bool = False,
    ) -> Response:
        lang = language(request)
        obj = self.blueprint.object(form.object)
        context = {
            "form": form,
            "title": form.label.get(lang, form.name),
            "intro": form.intro.get(lang, ""),
            "thanks_text": form.thanks.get(lang, "")
            or _words(lang, "Thank you: we have received your message."),
            "inputs": inputs(obj, form, lang, values, errors),
            "errors": bool(errors),
            "notice": notice,
            "thanks": thanks,
            "stamp": self.stamps.issue(form.name),
            "honeypot": HONEYPOT,
            "stamp_field": STAMP,
            "action": f"/f/{form.name}?lang={lang}",
        }
        response = self.templates[lang].TemplateResponse(
            request, "public/form.html", context, status_code=status
        )
        response.headers["Content-Security-Policy"] = content_security_policy(form)
        return response

    def _missing(self, request: Request) -> Response:
        lang = language(request)
        return self.templates[lang].TemplateResponse(request, "public/missing.html", {}, status_code=404)

    def _success(self, request: Request, form: PublicForm) -> Response:
        if form.redirect:
            return RedirectResponse(form.redirect, status_code=303)
        return self._render(request, form, thanks=True)

    async def page(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return self._missing(request)
        return self._render(request, form)

    async def post(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return self._missing(request)
        lang = language(request)
        wait = await run_in_threadpool(
            self.limiter.admit, form.name, _address(request), limit=form.rate_limit
        )
        if wait is not None:
            response = self._render(request, form, status=429, notice=_words(lang, _TOO_MANY))
            response.headers["Retry-After"] = str(wait)
            return response
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return self._render(request, form, status=413, notice=_words(lang, _TOO_LARGE))
        raw = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if raw.get(HONEYPOT, "").strip():
            return self._success(request, form)
        problem = self.stamps.check(form.name, raw.get(STAMP, ""))
        if problem is not None:
            return self._render(
                request, form, status=422, values=raw, notice=_words(lang, _PROBLEMS[problem])
            )
        try:
            await run_in_threadpool(self.intake.submit, form, raw)
        except ValidationError as exc:
            errors = {name: self._field_error(lang, message) for name, message in exc.fields.items()}
            notice = _words(lang, "Please correct the fields marked below.")
            return self._render(request, form, status=422, values=raw, errors=errors, notice=notice)
        except RecordError:
            log.exception("public form %s: the record could not be created", form.name)
            return self._render(request, form, status=422, values=raw, notice=_words(lang, _NOT_ACCEPTED))
        return self._success(request, form)

    @staticmethod
    def _field_error(lang: str, message: str) -> str:
        if message == "is required":
            return _words(lang, "Please fill this in.")
        # The record service's precise words are English; a Chinese page says what to do.
        return message if lang == "en" else _words(lang, "Please check this value.")

    # -- JSON ----------------------------------------------------------------------------------

    async def api_post(self, request: Request) -> Response:
        form = self._form(request)
        lang = language(request)
        if form is None:
            return error_response(404, "not_found", "there is no public form with this name")
        wait = await run_in_threadpool(
            self.limiter.admit, form.name, _address(request), limit=form.rate_limit
        )
        if wait is not None:
            headers = {"Retry-After": str(wait)}
            return error_response(429, "rate_limited", _words(lang, _TOO_MANY), headers=headers)
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return error_response(413, "too_large", _words(lang, _TOO_LARGE))
        if not request.headers.get("content-type", "").startswith("application/json"):
            return error_response(415, "unsupported_media_type", "send the values as application/json")
        try:
            raw = json.loads(body)
        except ValueError:
            return error_response(400, "bad_request", "the body is not valid JSON")
        if not isinstance(raw, dict):
            return error_response(400, "bad_request", "the body must be a JSON object of field values")
        honey = raw.pop(HONEYPOT, None)
        if honey not in (None, ""):
            return JSONResponse({"data": {"ok": True}}, status_code=201)
        unknown = {key: "is not a field of this form" for key in raw if key not in form.fields}
        if unknown:
            return error_response(422, "validation", f"invalid values: {', '.join(unknown)}", unknown)
        try:
            await run_in_threadpool(self.intake.submit, form, raw)
        except ValidationError as exc:
            return error_response(422, "validation", exc.message, exc.fields)
        except RecordError:
            log.exception("public form %s: the record could not be created", form.name)
            return error_response(422, "not_accepted", _words(lang, _NOT_ACCEPTED))
        return JSONResponse({"data": {"ok": True}}, status_code=201)


def public_form_views(
    services: Services, templates: Mapping[str, Jinja2Templates], clock: Clock
) -> PublicFormViews:
    """The public forms of the app's blueprint, on the composed platform's record service.

    Posts go through the same record service as every other write, so the rules
    attached to it (assignment, notification) run for them too.
    """
    records = services.records
    intake = FormIntake(records, services.sales.followups, services.sales.duplicates)
    limiter = FormLimiter(records.engine, records.tables, clock)
    return PublicFormViews(records.blueprint, intake, limiter, FormStamps(clock), templates)
