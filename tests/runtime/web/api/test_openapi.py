"""The OpenAPI document generated from a blueprint: valid OpenAPI 3, complete, and true to the API."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy.engine import Engine

from crm_platform.cli import load
from crm_platform.runtime.web.api.openapi.document import openapi_document
from tests.support.paths import ROOT
from tests.support.record_blueprint import SALES
from tests.support.web_fixtures import make_web_app

SHIPPED = ROOT / "blueprints"


@pytest.mark.parametrize("name", ["b2b_sales.yaml", "after_sales.yaml"])
def test_shipped_blueprints_give_a_valid_document_listing_every_object(name: str) -> None:
    blueprint = load(str(SHIPPED / name))
    assert blueprint is not None
    document = openapi_document(blueprint)
    validate(document)
    for obj in blueprint.objects:
        assert f"/api/v1/records/{obj.name}" in document["paths"]
        assert f"/api/v1/records/{obj.name}/{{id}}" in document["paths"]
        assert set(obj.field_names) <= set(document["components"]["schemas"][obj.name]["properties"])


def test_document_describes_types_choices_stages_required_fields_and_filters() -> None:
    document = openapi_document(SALES)
    schemas = document["components"]["schemas"]
    deal = schemas["opportunity"]["properties"]
    assert deal["stage"]["enum"] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert deal["amount"]["type"] == "string"  # money travels as a string
    assert deal["close_date"]["format"] == "date"
    assert deal["number"]["readOnly"] is True
    assert schemas["account"]["properties"]["tier"]["enum"] == ["high_value", "potential", "dormant"]
    assert schemas["opportunity_input"]["required"] == ["name", "account"]
    assert "number" not in schemas["opportunity_input"]["properties"]
    assert "version" in schemas["opportunity_patch"]["properties"]
    parameters = {p["name"] for p in document["paths"]["/api/v1/records/opportunity"]["get"]["parameters"]}
    assert {"sort", "limit", "cursor", "amount", "amount__gte", "name__contains", "tags__in"} <= parameters
    assert "tags__gt" not in parameters
    assert schemas["error"]["properties"]["error"]["required"] == ["code", "message", "fields"]


def test_served_document_needs_sign_in_and_matches_real_records(engine: Engine) -> None:
    web = make_web_app(engine)
    assert web.client().get("/api/v1/openapi.json").status_code == 401
    api = web.api()
    document = api.get("/api/v1/openapi.json").json()
    assert document == openapi_document(SALES)
    account = api.post("/api/v1/records/account", json={"name": "Acme", "tags": ["vip"]}).json()
    deal = api.post(
        "/api/v1/records/opportunity", json={"name": "Deal", "account": account["id"], "amount": 10}
    ).json()
    OAS30Validator(document["components"]["schemas"]["account"]).validate(account)
    OAS30Validator(document["components"]["schemas"]["opportunity"]).validate(deal)


def test_a_roles_document_leaves_out_its_hidden_fields_everywhere() -> None:
    blueprint = load(str(SHIPPED / "b2b_sales.yaml"))
    assert blueprint is not None
    document = openapi_document(blueprint, {"contract": frozenset({"amount"})})
    validate(document)
    contract = document["components"]["schemas"]["contract"]["properties"]
    assert "amount" not in contract and "name" in contract
    assert "amount" not in document["components"]["schemas"]["contract_input"]["properties"]
    parameters = {p["name"] for p in document["paths"]["/api/v1/records/contract"]["get"]["parameters"]}
    assert not any(name.split("__")[0] == "amount" for name in parameters)
    # Other objects keep theirs.
    assert "amount" in document["components"]["schemas"]["opportunity"]["properties"]
