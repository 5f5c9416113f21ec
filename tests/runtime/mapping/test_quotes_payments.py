"""A quote generated from an opportunity in one action (payments against contracts: test_rollups.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_platform.metadata.model import (
    ActionLines,
    Blueprint,
    Field,
    FieldMap,
    FieldType,
    ObjectAction,
    ObjectDef,
    Stage,
)
from crm_platform.runtime.errors import NotFoundError, StateError, ValidationError
from crm_platform.runtime.mapping.generate import run_action
from tests.support.sales_fixtures import Sales, make_sales

T = FieldType


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_quote_is_generated_from_an_opportunity_with_amount_account_and_owner(s: Sales) -> None:
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    deal = s.service.create(
        "opportunity", {"name": "Big deal", "account": account["id"], "amount": "120000"}, actor=s.rep
    )
    result = run_action(
        s.service,
        "opportunity",
        "generate_quote",
        deal["id"],
        actor=s.manager,
        values={"discount": "5", "valid_until": "2024-06-01"},
    )
    quote = result.record
    assert result.object == "quote"
    assert (quote["opportunity"], quote["account"], quote["amount"], quote["owner_id"]) == (
        deal["id"],
        account["id"],
        Decimal("120000.00"),
        s.rep.user_id,
    )
    # The opportunity's own number is an auto number: the quote gets its own, not a copy.
    assert quote["total"] == Decimal("114000.00") and quote["number"] == "Q-000001"
    assert quote["status"] == "draft" and result.lines == []
    assert s.service.history("quote", quote["id"])[0].changed_by == s.manager.user_id
    with pytest.raises(ValidationError) as refused:
        run_action(
            s.service, "opportunity", "generate_quote", deal["id"], actor=s.rep, values={"discount": "150"}
        )
    assert "discount" in refused.value.fields
    assert s.service.count("quote", actor=s.rep) == 1
    with pytest.raises(NotFoundError) as unknown:
        run_action(s.service, "opportunity", "generate_quota", deal["id"], actor=s.rep)
    assert (
        unknown.value.message == "opportunity has no action 'generate_quota'; did you mean 'generate_quote'?"
    )


QUOTE_ACTION = ObjectAction(
    "make_quote",
    "opportunity",
    "quote",
    map=(FieldMap("amount", "amount"),),
    no_copy=("note",),
    lines=ActionLines("opportunity_line", "quote_line", no_copy=("price",)),
    when='stage in ["proposal", "negotiation"]',
)
LINES = Blueprint(
    name="lines",
    version=1,
    roles=("sales_rep", "sales_manager"),
    objects=(
        ObjectDef(
            "opportunity",
            "name",
            (
                Field("name", T.TEXT, required=True),
                Field("amount", T.MONEY),
                Field("note", T.TEXT),
                Field("stage", T.STAGE),
            ),
            stages=(Stage("qualify"), Stage("proposal"), Stage("negotiation")),
            actions=(QUOTE_ACTION,),
        ),
        ObjectDef(
            "opportunity_line",
            "product",
            (
                Field("opportunity", T.LOOKUP, to="opportunity", required=True),
                Field("product", T.TEXT, required=True),
                Field("quantity", T.INTEGER),
                Field("price", T.MONEY),
            ),
        ),
        ObjectDef(
            "quote",
            "opportunity",
            (
                Field("opportunity", T.LOOKUP, to="opportunity", required=True),
                Field("amount", T.MONEY),
                Field("note", T.TEXT),
                Field("stage", T.TEXT),
            ),
        ),
        ObjectDef(
            "quote_line",
            "product",
            (
                Field("quote", T.LOOKUP, to="quote", required=True),
                Field("product", T.TEXT, required=True, max_length=20),
                Field("quantity", T.INTEGER),
                Field("price", T.MONEY),
            ),
        ),
    ),
)


def test_quote_lines_are_carried_from_the_opportunitys_lines_while_when_holds(engine) -> None:
    s = make_sales(engine, LINES)
    deal = s.service.create("opportunity", {"name": "Deal", "amount": "300", "note": "internal"}, actor=s.rep)
    other = s.service.create("opportunity", {"name": "Other"}, actor=s.rep)
    for product, quantity in (("Licence", 2), ("Support", 1)):
        s.service.create(
            "opportunity_line",
            {"opportunity": deal["id"], "product": product, "quantity": quantity, "price": "100"},
            actor=s.rep,
        )
    s.service.create("opportunity_line", {"opportunity": other["id"], "product": "Elsewhere"}, actor=s.rep)

    # when: the deal is still qualifying; nothing is made.
    with pytest.raises(StateError) as early:
        run_action(s.service, "opportunity", "make_quote", deal["id"], actor=s.rep)
    assert 'stage in ["proposal", "negotiation"]' in early.value.message
    assert s.service.count("quote", actor=s.rep) == 0

    deal = s.service.update(
        "opportunity", deal["id"], {"stage": "proposal"}, version=deal["version"], actor=s.rep
    )
    result = run_action(s.service, "opportunity", "make_quote", deal["id"], actor=s.rep)

    # Same-named fields are copied, but not note (no_copy) and not the stage (never, whatever its type).
    assert (result.record["amount"], result.record["note"], result.record["stage"]) == (
        Decimal("300.00"),
        None,
        None,
    )
    assert [(line["product"], line["quantity"], line["price"], line["quote"]) for line in result.lines] == [
        ("Licence", 2, None, result.record["id"]),
        ("Support", 1, None, result.record["id"]),
    ]


def test_a_line_that_fails_leaves_no_half_made_quote(engine) -> None:
    s = make_sales(engine, LINES)
    deal = s.service.create("opportunity", {"name": "Deal", "stage": "proposal"}, actor=s.rep)
    for product in ("Licence", "A product name far too long for a quote line"):
        s.service.create("opportunity_line", {"opportunity": deal["id"], "product": product}, actor=s.rep)
    with pytest.raises(ValidationError) as refused:
        run_action(s.service, "opportunity", "make_quote", deal["id"], actor=s.rep)
    # The quote and its first line were made before the second line failed: all are gone.
    assert list(refused.value.fields) == ["lines.2.product"]
    assert s.service.count("quote", actor=s.rep) == 0 and s.service.count("quote_line", actor=s.rep) == 0
