"""Field roles carry another industry: a tutoring blueprint whose money field is ``fee`` and whose
party is a ``school``. The board sums and names them, the funnel sums ``fee``, ``email contact``
reaches the declared contact, and ``move to pool`` sets what ``pool:`` declares. Both databases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint_text
from crm_platform.rules import rule_errors
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.reports.pipeline import funnel
from tests.support.engine_fixtures import make_stack
from tests.support.html import one, page, texts
from tests.support.web_fixtures import WebApp, make_web_app

TUTORING = """
blueprint: tutoring
version: 1
label: {en: Tutoring, zh: 家教}
roles: [tutor]
objects:
  school:
    title: name
    fields:
      name: {type: text, required: true}
      office_mail: {type: email}
    contact_field: office_mail
  booking:
    title: pupil
    amount_field: fee
    party_field: school
    tags_field: subjects
    contact_field: school
    card: [fee, school, lesson_on]
    fields:
      pupil: {type: text, required: true}
      school: {type: lookup, to: school}
      fee: {type: money}
      deposit: {type: money}
      lesson_on: {type: date}
      subjects: {type: multi_choice, choices: [maths, chemistry]}
      phase: {type: stage}
      state: {type: choice, choices: [open, unassigned], default: open}
    pool: {state: unassigned}
    stages:
      - {name: asked, label: {en: Asked, zh: 询问}}
      - {name: booked, label: {en: Booked, zh: 已预订}}
      - {name: taught, label: {en: Taught, zh: 已上课}, outcome: won}
  note:
    title: text
    fields:
      text: {type: text, required: true}
templates:
  thanks:
    subject: {en: "Thanks", zh: "谢谢"}
    body: {en: "Thanks", zh: "谢谢"}
"""
BLUEPRINT = load_blueprint_text(TUTORING, "tutoring.yaml")
NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)


class World:
    def __init__(self, engine: Engine) -> None:
        self.web: WebApp = make_web_app(engine, blueprint=BLUEPRINT)
        self.admin = self.web.services.users.add("ada@example.com", role="admin", name="Ada")
        self.records = self.web.services.records
        self.school = self.records.create(
            "school", {"name": "Hill School", "office_mail": "hi@hill.example"}, actor=SYSTEM
        )

    def booking(self, pupil: str, fee: int, stage: str = "asked", **values: Any) -> dict[str, Any]:
        data = {
            "pupil": pupil,
            "school": self.school["id"],
            "fee": fee,
            "deposit": 7,
            "phase": stage,
            **values,
        }
        return self.records.create("booking", data, actor=Actor(self.admin.id, is_admin=True))


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


def test_the_declared_roles_are_what_the_metadata_says() -> None:
    roles = BLUEPRINT.object("booking").roles
    assert (roles.amount, roles.party, roles.tags, roles.contact) == ("fee", "school", "subjects", "school")
    assert BLUEPRINT.object("school").roles.contact == "office_mail"


def test_the_board_sums_the_fee_and_names_the_school_on_cards(world: World) -> None:
    world.booking("Lin", 300, subjects=["maths"], lesson_on="2024-05-20")
    world.booking("Mei", 200)
    soup = page(world.web.browser(world.admin).get("/o/booking/board"))
    column = one(soup, "section.column[data-stage=asked]")
    # Σ of fee (500), never of deposit (the other money field).
    assert texts(column, ".column-sum") == ["Σ Total 500"]
    lin = next(card for card in column.select("article.card") if texts(card, ".card-title") == ["Lin"])
    assert texts(lin, ".card-account") == ["Hill School"]
    assert texts(lin, ".card-tags li") == ["Maths"]
    # The card: list's further field (the lesson date) is shown too.
    assert len(lin.select(".card-extra")) == 1


def test_the_funnel_sums_the_fee(world: World) -> None:
    world.booking("Lin", 300)
    report = funnel(
        world.records,
        "booking",
        actor=SYSTEM,
        since=NOW - dt.timedelta(days=1),
        until=NOW + dt.timedelta(days=1),
    )
    asked = next(row for row in report.stages if row.stage == "asked")
    assert (asked.entered, asked.amount) == (1, Decimal("300.00"))


def test_email_contact_follows_the_contact_roles_and_the_checker_knows_them() -> None:
    assert rule_errors('booking created -> email contact "thanks"', BLUEPRINT) == []
    (error,) = rule_errors('note created -> email contact "thanks"', BLUEPRINT)
    assert "note has no contact e-mail; declare contact_field on note" in error.message
    assert (error.line, error.column) == (1, 23)  # the word contact


def test_move_to_pool_sets_the_declared_pool_values(engine: Engine) -> None:
    blueprint = load_blueprint_text(TUTORING, "tutoring.yaml")
    stack = make_stack(engine, blueprint=blueprint, rules=["booking.fee changes to 0 -> move to pool"])
    tutor = stack.user("tom@example.com", role="tutor")
    booking = stack.create("booking", {"pupil": "Lin", "fee": 10, "phase": "asked"}, tutor)
    stack.update("booking", booking, {"fee": 0}, tutor)
    after = stack.get("booking", booking["id"])
    assert (after["owner_id"], after["state"]) == (None, "unassigned")
