"""The export's rows: lookups and users resolved set-based, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.exports import Exporter, csv_chunks
from tests.support.export_world import ExportWorld, build_export_world, csv_records


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _export(world: ExportWorld, actor: Actor) -> bytes:
    services = world.web.services
    exporter = Exporter(services.records, services.users.names)
    obj = services.records.blueprint.object("deal")
    columns = exporter.columns(obj, actor, "en", lambda text: text)
    return b"".join(csv_chunks(columns, exporter.pages(obj, actor, columns, sort="name")))


def _add_deals(world: ExportWorld, count: int) -> None:
    records = world.web.services.records
    for number in range(count):
        account = records.create("account", {"name": f"Account {number:03}"}, actor=SYSTEM)
        owner = (world.ann, world.bob, world.mia)[number % 3]
        values = {"name": f"Deal {number:03}", "account": account["id"], "reviewer": owner.id}
        records.create("deal", {**values, "owner_id": owner.id}, actor=SYSTEM)


def test_the_queries_of_an_export_do_not_grow_with_its_rows(engine: Engine) -> None:
    world = build_export_world(engine)
    manager = Actor(world.mia.id, role="sales_manager")
    with _statements(engine) as few:
        small = csv_records(_export(world, manager))
    _add_deals(world, 40)
    with _statements(engine) as many:
        large = csv_records(_export(world, manager))
    assert len(small) == 4
    assert len(large) == 44
    # One list of the deals, one of the accounts they point to, one of the users: per page.
    assert len(many) == len(few)
    deal = next(r for r in large if r["Name"] == "Deal 007")
    assert deal["Account"] == "Account 007"
    assert deal["Reviewer"] == deal["Owner"] == "Bob 王"
