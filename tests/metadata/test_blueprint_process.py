"""The declared processes build into the typed model: roles, pool, actions, roll-ups, duplicates,
stage gates and conversions (tests/blueprints/good/process.yaml)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_platform.metadata import (
    Blueprint,
    ExistingPolicy,
    FieldMap,
    FieldRoles,
    FieldValue,
    MatchKind,
    RollupKind,
    load_blueprint,
    load_blueprint_text,
)
from tests.support.paths import TEST_BLUEPRINTS

GOOD = TEST_BLUEPRINTS / "good"


@pytest.fixture(scope="module")
def bp() -> Blueprint:
    return load_blueprint(GOOD / "process.yaml")


def test_declared_roles_and_defaults(bp: Blueprint) -> None:
    deal = bp.object("deal")
    # Declared amount and party; contact and tags default to none (no email / multi_choice field).
    assert deal.roles == FieldRoles(amount="value", party="account", card=("value", "close_date", "owner_id"))
    # Defaults: the first email field is the contact, the first multi_choice the tags.
    assert bp.object("lead").roles == FieldRoles(contact="email")
    assert bp.object("account").roles == FieldRoles(tags="labels")
    # The first money field is the amount when none is declared.
    assert bp.object("offer").roles.amount == "total"


def test_amount_field_null_declares_no_amount() -> None:
    text = (
        "blueprint: x\nversion: 1\nobjects:\n  a:\n    title: n\n    amount_field: null\n"
        "    fields: {n: {type: text}, price: {type: money}}\n"
    )
    assert load_blueprint_text(text, "x.yaml").object("a").roles.amount is None


def test_pool_values_are_typed_like_defaults(bp: Blueprint) -> None:
    pool = bp.object("lead").pool
    assert pool == (FieldValue("status", "pool"), FieldValue("score", Decimal(0)))
    assert isinstance(pool[1].value, Decimal)


def test_duplicates(bp: Blueprint) -> None:
    rules = bp.object("lead").duplicates
    assert rules is not None
    assert [k.match for k in rules.keys] == [MatchKind.EMAIL, MatchKind.PHONE, MatchKind.COMPANY_NAME]
    assert rules.keys[1].country == "CN"
    assert rules.compare_with == ("account",)
    account = bp.object("account").duplicates
    assert account is not None and account.keys[1].match is MatchKind.EXACT
    assert bp.object("deal").duplicates is None


def test_action(bp: Blueprint) -> None:
    action = bp.object("deal").action("make_offer")
    assert (action.object, action.create, action.label.zh) == ("deal", "offer", "生成报价")
    assert action.map == (FieldMap("total", "value"),)
    assert action.no_copy == ("name",)
    assert action.when == 'stage in ["open", "closing"]'
    assert action.lines is not None
    assert (action.lines.source, action.lines.target) == ("deal_line", "offer_line")
    assert action.lines.map == (FieldMap("qty", "quantity"),)
    assert action.lines.no_copy == ("note",)


def test_rollups(bp: Blueprint) -> None:
    deal = bp.object("deal")
    count, total, cheapest = deal.rollups
    assert (count.kind, count.child, count.field, count.via) == (RollupKind.COUNT, "deal_line", None, "deal")
    assert count.label_for("en") == "Lines"
    assert (total.kind, total.field, total.where) == (RollupKind.SUM, "price", "quantity > 0")
    assert cheapest.kind is RollupKind.MIN
    assert deal.has_rollup("line_total") and not deal.has_rollup("value")


def test_stage_gates(bp: Blueprint) -> None:
    deal = bp.object("deal")
    won, lost = deal.stage("won"), deal.stage("lost")
    assert (won.from_stages, won.requires_approval, won.reason) == (("closing",), "review", None)
    assert (lost.from_stages, lost.requires_approval, lost.reason) == ((), None, "why_lost")


def test_conversion(bp: Blueprint) -> None:
    conversion = bp.conversion("qualify")
    assert (conversion.source, conversion.open, conversion.label.en) == ("lead", "deal", "Qualify")
    assert conversion.mark == (FieldValue("status", "converted"),)
    account, deal = conversion.targets
    assert account == conversion.target("account")
    assert (account.existing, account.optional, account.map) == (
        ExistingPolicy.DUPLICATES,
        False,
        (FieldMap("name", "company"),),
    )
    assert (deal.existing, deal.optional, deal.no_copy) == (ExistingPolicy.NEVER, True, ("phone",))
    with pytest.raises(KeyError):
        conversion.target("contact")


def test_positions_point_at_the_declarations(bp: Blueprint) -> None:
    action = bp.object("deal").action("make_offer")
    assert action.position is not None and action.position.line == 53
    key = bp.object("lead").duplicates.keys[2]  # type: ignore[union-attr]
    assert key.position is not None and (key.position.line, key.position.column) == (21, 11)
