"""A quote generated from an opportunity in one action (payments against contracts: test_rollups.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sales_fixtures import Sales, make_sales

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef
from crm_platform.runtime.errors import ValidationError
from crm_platform.runtime.mapping.generate import quote_from_opportunity

T = FieldType


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_a_quote_is_generated_from_an_opportunity_with_amount_account_and_owner(s: Sales) -> None:
    account = s.service.create("account", {"name": "Acme"}, actor=s.rep)
    deal = s.service.create(
        "opportunity", {"name": "Big deal", "account": account["id"], "amount": "120000"}, actor=s.rep
    )
    result = quote_from_opportunity(
        s.service, deal["id"], actor=s.manager, values={"discount": "5", "valid_until": "2024-06-01"}
    )
    quote = result.quote
    assert (quote["opportunity"], quote["account"], quote["amount"], quote["owner_id"]) == (
        deal["id"],
        account["id"],
        Decimal("120000.00"),
        s.rep.user_id,
    )
    assert quote["total"] == Decimal("114000.00") and quote["number"] == "Q-000001"
    assert quote["status"] == "draft" and result.lines == []
    assert s.service.history("quote", quote["id"])[0].changed_by == s.manager.user_id
    with pytest.raises(ValidationError) as refused:
        quote_from_opportunity(s.service, deal["id"], actor=s.rep, values={"discount": "150"})
    assert "discount" in refused.value.fields
    assert s.service.count("quote", actor=s.rep) == 1


LINES = Blueprint(
    name="lines",
    version=1,
    roles=("sales_rep", "sales_manager"),
    objects=(
        ObjectDef("opportunity", "name", (Field("name", T.TEXT, required=True), Field("amount", T.MONEY))),
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
            (Field("opportunity", T.LOOKUP, to="opportunity", required=True), Field("amount", T.MONEY)),
        ),
        ObjectDef(
            "quote_line",
            "product",
            (
                Field("quote", T.LOOKUP, to="quote", required=True),
                Field("product", T.TEXT, required=True),
                Field("quantity", T.INTEGER),
                Field("price", T.MONEY),
            ),
        ),
    ),
)


def test_quote_lines_are_carried_from_the_opportunitys_lines(engine) -> None:
    s = make_sales(engine, LINES)
    deal = s.service.create("opportunity", {"name": "Deal", "amount": "300"}, actor=s.rep)
    other = s.service.create("opportunity", {"name": "Other"}, actor=s.rep)
    for product, quantity in (("Licence", 2), ("Support", 1)):
        s.service.create(
            "opportunity_line",
            {"opportunity": deal["id"], "product": product, "quantity": quantity, "price": "100"},
            actor=s.rep,
        )
    s.service.create("opportunity_line", {"opportunity": other["id"], "product": "Elsewhere"}, actor=s.rep)

    result = quote_from_opportunity(s.service, deal["id"], actor=s.rep)

    assert result.quote["amount"] == Decimal("300.00")
    assert [(line["product"], line["quantity"], line["quote"]) for line in result.lines] == [
        ("Licence", 2, result.quote["id"]),
        ("Support", 1, result.quote["id"]),
    ]
