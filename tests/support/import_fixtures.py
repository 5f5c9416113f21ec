"""The shipped b2b_sales blueprint, wired by compose, with an admin and a rep: what import tests need."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.compose import Platform, compose
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.imports import Importer, ImportOptions, ImportReport
from crm_platform.runtime.migrations.migrate import migrate
from tests.support.record_blueprint import Clock
from tests.support.sales_fixtures import add_user, b2b_blueprint


@dataclass
class ImportWorld:
    """A migrated database, the platform on it, an importer and two users."""

    platform: Platform
    importer: Importer
    admin: Actor
    rep: Actor

    def run(
        self, data: bytes, name: str = "file.csv", *, actor: Actor | None = None, **options: Any
    ) -> ImportReport:
        """Prepare and run an import of ``data`` (keyword options as in :class:`ImportOptions`)."""
        job = self.importer.prepare(data, name, ImportOptions(**options))
        return self.importer.run(job, actor=actor or self.admin)

    def rows(self, object: str, *columns: str) -> list[tuple[Any, ...]]:
        """The live rows of ``object``'s table, ``columns`` only, by id."""
        table = self.platform.tables.object(object)
        query = (
            sa.select(*(table.c[c] for c in columns)).where(table.c.deleted_at.is_(None)).order_by(table.c.id)
        )
        with self.platform.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


def make_world(engine: Engine, blueprint: Blueprint | None = None, *, rules: bool = True) -> ImportWorld:
    """Migrate ``blueprint`` (default b2b_sales) onto ``engine`` and compose the platform."""
    blueprint = blueprint or b2b_blueprint()
    migrate(engine, blueprint)
    platform = compose(blueprint, engine, clock=Clock(), attach_rules=rules)
    admin = add_user(engine, platform.records, "root@example.com", role="admin")
    rep = add_user(engine, platform.records, "ana@example.com", role="sales_rep")
    return ImportWorld(
        platform,
        Importer(platform.records),
        Actor(admin, is_admin=True, role="admin"),
        Actor(rep, role="sales_rep"),
    )


def csv_bytes(text: str, *, encoding: str = "utf-8", bom: bool = False, crlf: bool = False) -> bytes:
    """``text`` (lines joined by LF) encoded as a spreadsheet program would save it."""
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom else data


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
