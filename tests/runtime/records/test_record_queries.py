"""Lists: filters, multi-column sort and keyset pagination, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_platform.metadata.model import Condition, FilterOp, SortKey
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.errors import QueryError
from crm_platform.runtime.records.query import parse_filter_param
from crm_platform.runtime.records.service import RecordService
from tests.support.record_blueprint import OPPORTUNITY, Clock, make_service

EQ, NE, GT, GTE, LT, LTE, IN, CONTAINS = (
    FilterOp.EQ,
    FilterOp.NE,
    FilterOp.GT,
    FilterOp.GTE,
    FilterOp.LT,
    FilterOp.LTE,
    FilterOp.IN,
    FilterOp.CONTAINS,
)
DEALS = [
    # name, amount, stage, tags, close_date
    ("Alpha 100%", "100", "proposal", ["hot"], "2024-05-01"),
    ("beta_one", "250", "negotiation", ["hot", "strategic"], "2024-06-01"),
    ("Gamma", None, "won", [], "2024-04-01"),
    ("delta", "250", "proposal", ["follow_up"], None),
    ("Epsilon", "0", "lost", [], "2024-05-01"),
]


@pytest.fixture
def service(engine: sa.Engine) -> RecordService:
    service = make_service(engine, Clock())
    account = service.create("account", {"name": "Acme"}, actor=SYSTEM)
    for name, amount, stage, tags, close in DEALS:
        values = {"name": name, "account": account["id"], "amount": amount, "stage": stage, "tags": tags}
        service.create("opportunity", {**values, "close_date": close}, actor=SYSTEM)
    return service


def _names(service: RecordService, *conditions: Condition, sort=("name",)) -> list[str]:
    page = service.list("opportunity", actor=SYSTEM, filters=conditions, sort=sort)
    return [record["name"] for record in page.records]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("stage", EQ, "proposal"), ["Alpha 100%", "delta"]),
        (Condition("stage", NE, "proposal"), ["beta_one", "Epsilon", "Gamma"]),
        (Condition("amount", GT, "100"), ["beta_one", "delta"]),
        (Condition("amount", GTE, 100), ["Alpha 100%", "beta_one", "delta"]),
        (Condition("amount", LT, Decimal("100")), ["Epsilon"]),
        (Condition("amount", LTE, "100.00"), ["Alpha 100%", "Epsilon"]),
        (Condition("amount", EQ, None), ["Gamma"]),
        (Condition("close_date", GTE, "2024-05-01"), ["Alpha 100%", "beta_one", "Epsilon"]),
        (Condition("close_date", LT, dt.date(2024, 5, 1)), ["Gamma"]),
        (Condition("stage", IN, ["won", "lost"]), ["Epsilon", "Gamma"]),
        (Condition("stage", IN, "won,lost"), ["Epsilon", "Gamma"]),
        (Condition("name", CONTAINS, "ALPHA"), ["Alpha 100%"]),
        (Condition("name", CONTAINS, "%"), ["Alpha 100%"]),  # % is a character, not a wildcard
        (Condition("name", CONTAINS, "_"), ["beta_one"]),
        (Condition("tags", CONTAINS, "hot"), ["Alpha 100%", "beta_one"]),
        (Condition("tags", CONTAINS, ["hot", "strategic"]), ["beta_one"]),
        (Condition("tags", IN, ["strategic", "follow_up"]), ["beta_one", "delta"]),
        (Condition("id", IN, []), []),
    ],
)
def test_filters(service: RecordService, condition: Condition, expected: list[str]) -> None:
    assert sorted(_names(service, condition), key=str.lower) == sorted(expected, key=str.lower)
    assert service.count("opportunity", actor=SYSTEM, filters=[condition]) == len(expected)


def test_filters_combine_with_and(service: RecordService) -> None:
    assert _names(service, Condition("stage", EQ, "proposal"), Condition("amount", GT, 100)) == ["delta"]


@pytest.mark.parametrize(
    ("condition", "field", "message"),
    [
        (Condition("amout", EQ, 1), "amout", "unknown field 'amout' of opportunity; did you mean 'amount'?"),
        (Condition("amount", GT, "lots"), "amount", "expected a number, got 'lots'"),
        (Condition("stage", EQ, "wno"), "stage", "'wno' is not a stage; did you mean 'won'?"),
        (Condition("amount", CONTAINS, "1"), "amount", "'contains' works on text and multi_choice fields"),
        (Condition("tags", GT, "hot"), "tags", "multi_choice fields take 'contains' or 'in'"),
        (Condition("amount", "between", 1), "amount", "unknown operator 'between'"),
    ],
)
def test_bad_filters_raise_instead_of_matching_nothing(service, condition, field, message) -> None:
    with pytest.raises(QueryError) as excinfo:
        service.list("opportunity", actor=SYSTEM, filters=[condition])
    assert excinfo.value.field == field
    assert message in str(excinfo.value)


def test_parse_filter_param_for_the_api() -> None:
    assert parse_filter_param(OPPORTUNITY, "amount__gte", "100") == Condition("amount", GTE, "100")
    assert parse_filter_param(OPPORTUNITY, "stage", "won") == Condition("stage", EQ, "won")
    with pytest.raises(QueryError, match="unknown operator 'gtee'; did you mean 'gte'"):
        parse_filter_param(OPPORTUNITY, "amount__gtee", "1")
    with pytest.raises(QueryError, match="did you mean 'stage'"):
        parse_filter_param(OPPORTUNITY, "stag", "won")


def test_multi_column_sort_puts_nulls_last_and_breaks_ties_by_id(service: RecordService) -> None:
    assert _names(service, sort=["amount", "name"]) == ["Epsilon", "Alpha 100%", "beta_one", "delta", "Gamma"]
    assert _names(service, sort=["-amount", "-name"]) == [
        "Gamma",
        "delta",
        "beta_one",
        "Alpha 100%",
        "Epsilon",
    ]
    assert _names(service, sort=[SortKey("amount", descending=True)])[1:3] == ["beta_one", "delta"]  # by id
    assert _names(service, sort="-close_date,name") == ["delta", "beta_one", "Alpha 100%", "Epsilon", "Gamma"]


def test_sort_by_an_unknown_field_is_an_error(service: RecordService) -> None:
    with pytest.raises(QueryError, match="did you mean 'amount'"):
        service.list("opportunity", actor=SYSTEM, sort=["-amont"])


def test_pages_follow_each_other(service: RecordService) -> None:
    first = service.list("opportunity", actor=SYSTEM, sort=["-amount"], limit=2)
    second = service.list("opportunity", actor=SYSTEM, sort=["-amount"], limit=2, cursor=first.next)
    third = service.list("opportunity", actor=SYSTEM, sort=["-amount"], limit=2, cursor=second.next)
    names = [r["name"] for page in (first, second, third) for r in page.records]
    assert names == ["Gamma", "beta_one", "delta", "Alpha 100%", "Epsilon"]
    assert third.next is None


def test_a_cursor_of_another_sort_or_a_forged_one_is_refused(service: RecordService) -> None:
    first = service.list("opportunity", actor=SYSTEM, sort=["-amount"], limit=2)
    with pytest.raises(QueryError, match="different sort order"):
        service.list("opportunity", actor=SYSTEM, sort=["name"], cursor=first.next)
    with pytest.raises(QueryError, match="not a cursor"):
        service.list("opportunity", actor=SYSTEM, cursor="!!nonsense")


def test_limit_is_capped(service: RecordService) -> None:
    page = service.list("opportunity", actor=SYSTEM, limit=10_000)
    assert len(page.records) == 5 and page.next is None


def _all_pages(service: RecordService, sort: list[str], limit: int, filters=()) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = service.list(
            "opportunity", actor=SYSTEM, sort=sort, limit=limit, cursor=cursor, filters=filters
        )
        ids.extend(r["id"] for r in page.records)
        if page.next is None:
            return ids
        cursor = page.next


@pytest.fixture
def many(engine: sa.Engine) -> RecordService:
    """40 deals with many ties and NULLs in amount, stage and close date."""
    service = make_service(engine, Clock())
    account = service.create("account", {"name": "Acme"}, actor=SYSTEM)
    stages = [None, "proposal", "won"]
    with engine.begin() as connection:
        for i in range(40):
            values = {
                "name": f"d{i % 7}",
                "account": account["id"],
                "amount": None if i % 5 == 0 else str(i % 4 * 100),
                "close_date": None if i % 3 == 0 else f"2024-05-{1 + i % 2:02d}",
            }
            if stages[i % 3]:
                values["stage"] = stages[i % 3]
            service.create("opportunity", values, actor=SYSTEM, connection=connection)
    return service


SORT_FIELDS = [
    "amount",
    "-amount",
    "name",
    "-name",
    "close_date",
    "-close_date",
    "stage",
    "-created_at",
    "-id",
]


@pytest.mark.parametrize(
    "sort", [["amount"], ["-amount", "name"], ["close_date", "-amount"], ["-stage", "-close_date"]]
)
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_paging_through_everything_equals_one_sorted_query(many: RecordService, sort, limit) -> None:
    everything = [r["id"] for r in many.list("opportunity", actor=SYSTEM, sort=sort, limit=500).records]
    assert len(everything) == 40
    assert _all_pages(many, sort, limit) == everything


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sort=st.lists(st.sampled_from(SORT_FIELDS), min_size=1, max_size=3, unique_by=lambda s: s.lstrip("-")),
    limit=st.integers(min_value=1, max_value=9),
    min_amount=st.sampled_from([None, "0", "100", "200"]),
)
def test_keyset_pages_match_the_full_query(many: RecordService, sort, limit, min_amount) -> None:
    filters = [Condition("amount", GTE, min_amount)] if min_amount else []
    everything = [
        r["id"] for r in many.list("opportunity", actor=SYSTEM, sort=sort, limit=500, filters=filters).records
    ]
    paged = _all_pages(many, sort, limit, filters)
    assert paged == everything
    assert len(set(paged)) == len(paged)
