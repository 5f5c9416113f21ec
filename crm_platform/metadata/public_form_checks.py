"""Semantic checks of ``public_forms:``: what a public page asks, sets and lets embed it.

A public form creates records for anyone on the internet, so it may only ask for
fields a visitor can sensibly type (not computed, lookup, user or stage fields),
must leave no required field of its object empty, and names the origins allowed
to frame it exactly (they become a ``Content-Security-Policy`` header).
"""

from __future__ import annotations

import re

from .checks_base import CheckerBase
from .checks_values import value_problem
from .errors import Diagnostic
from .model import Blueprint, FieldType, ObjectDef, PublicForm
from .partial import Broken
from .schema import show
from .suggest import did_you_mean
from .yamlpos import Path, YamlDocument

_T = FieldType
#: Types a visitor cannot fill in on a public page.
_NOT_ASKABLE = frozenset({_T.FORMULA, _T.AUTO_NUMBER, _T.LOOKUP, _T.USER, _T.STAGE})
#: ``https://host[:port]`` (a ``*.`` wildcard for subdomains allowed) or ``'self'``.
_ORIGIN = re.compile(r"^(?:'self'|https://(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?)$")


def check_public_forms(
    blueprint: Blueprint, document: YamlDocument, broken: Broken | None = None
) -> list[Diagnostic]:
    """Every problem of the blueprint's ``public_forms:`` section."""
    checker = _PublicFormChecker(blueprint, document, broken=broken)
    for form in blueprint.public_forms:
        checker.form(form)
    return checker.diagnostics


class _PublicFormChecker(CheckerBase):
    def form(self, form: PublicForm) -> None:
        path: Path = ("public_forms", form.name)
        where = f"public form '{form.name}'"
        self.name("public form", form.name, self.doc.key(path))
        obj = self.object_ref(
            form.object, self.doc.node((*path, "object")), f"{where} is on unknown object '{form.object}'"
        )
        self.redirect(form, path, where)
        self.origins(form, path, where)
        if obj is None:
            return
        asked = self.asked(obj, form, path, where)
        set_names = self.set_values(obj, form, path, where, asked)
        self.required(obj, form, path, where, asked | set_names)

    def asked(self, obj: ObjectDef, form: PublicForm, path: Path, where: str) -> set[str]:
        """The valid asked fields; unknown, unaskable and repeated ones are reported."""
        asked: set[str] = set()
        for i, name in enumerate(form.fields):
            item: Path = (*path, "fields", i)
            if not self.field_ref(obj, name, item, where):
                continue
            field = obj.field(name)
            if field.type in _NOT_ASKABLE:
                self.error(
                    self.doc.node(item),
                    f"{where} asks for field '{name}', which is {field.type.value}: a visitor cannot "
                    "fill it in (ask for text, number, date, choice or boolean fields)",
                )
            elif name in asked:
                self.error(self.doc.node(item), f"{where} asks for field '{name}' twice")
            asked.add(name)
        return asked

    def set_values(
        self, obj: ObjectDef, form: PublicForm, path: Path, where: str, asked: set[str]
    ) -> set[str]:
        names: set[str] = set()
        for item in form.set:
            item_path: Path = (*path, "set", item.field)
            if not obj.has_field(item.field):
                if not self.broken.field(obj.name, item.field):
                    self.error(
                        self.doc.key(item_path),
                        f"{where} sets unknown field '{item.field}'"
                        f"{did_you_mean(item.field, obj.field_names)}",
                    )
                continue
            names.add(item.field)
            if item.field in asked:
                self.error(
                    self.doc.key(item_path),
                    f"{where} both asks for and sets field '{item.field}': a visitor's value "
                    "would be overwritten",
                )
                continue
            written = self.raw(item_path)
            problem = value_problem(
                obj, obj.field(item.field), written, stages_known=not self.broken.part(obj.name, "stages")
            )
            if problem:
                self.error(
                    self.doc.node(item_path), f"{where} sets '{item.field}' to {show(written)}{problem}"
                )
        return names

    def required(self, obj: ObjectDef, form: PublicForm, path: Path, where: str, filled: set[str]) -> None:
        missing = [
            f.name
            for f in obj.fields
            if f.required and f.default is None and not f.is_computed and f.name not in filled
        ]
        for name in missing:
            self.error(
                self.doc.node((*path, "fields")),
                f"{where} leaves required field '{name}' of '{obj.name}' empty: add it to fields, "
                "set it, or give the field a default",
            )

    def redirect(self, form: PublicForm, path: Path, where: str) -> None:
        if form.redirect is not None and not re.match(r"^https://[^\s/]+", form.redirect):
            self.error(
                self.doc.node((*path, "redirect")),
                f"redirect of {where} must be an https:// address, got {show(form.redirect)}",
            )

    def origins(self, form: PublicForm, path: Path, where: str) -> None:
        for i, origin in enumerate(form.frame_ancestors):
            if not _ORIGIN.match(origin):
                self.error(
                    self.doc.node((*path, "frame_ancestors", i)),
                    f"frame_ancestors of {where}: {show(origin)} is not an origin "
                    "(https://host, https://host:port, https://*.host or 'self')",
                )
