"""Roll-ups (``rollups:``): values folded from child records, read, filtered and sorted like fields.

Most tests use a school blueprint built here (fee payments on a student), which proves
nothing is tied to the sales names; the b2b_sales tests check the contract's payments
(回款): received, planned, overdue, and the formulas outstanding and unscheduled over them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import (
    Blueprint,
    Choice,
    Condition,
    Field,
    FieldType,
    FilterOp,
    ObjectDef,
    Rollup,
    RollupKind,
)
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import QueryError, ValidationError
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.records.rollups import RollupError
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import build_tables
from tests.support.html import page, texts
from tests.support.record_blueprint import Clock
from tests.support.sales_fixtures import Sales, add_user, make_sales
from tests.support.web_fixtures import make_web_app

T = FieldType
K = RollupKind
D = Decimal

ROLLUPS = (
    Rollup("paid", K.SUM, "fee_payment", "amount", "student", 'status == "paid"'),
    Rollup("owed", K.SUM, "fee_payment", "amount", "student", 'status != "paid"'),
    Rollup("late", K.SUM, "fee_payment", "amount", "student", 'status != "paid" and due_on < today()'),
    Rollup("fees", K.COUNT, "fee_payment", None, "student"),
    Rollup("next_due", K.MIN, "fee_payment", "due_on", "student", 'status in ["due"]'),
    Rollup("largest", K.MAX, "fee_payment", "amount", "student"),
    Rollup("absences", K.COUNT, "absence", None, "student", "not excused"),
)


def school(rollups: tuple[Rollup, ...] = ROLLUPS) -> Blueprint:
    """Students, their fee payments and absences; the student's balance is a formula over a roll-up."""
    return Blueprint(
        name="school",
        version=1,
        objects=(
            ObjectDef(
                "student",
                "name",
                (
                    Field("name", T.TEXT, required=True),
                    Field("tuition", T.MONEY, scale=2),
                    Field("balance", T.FORMULA, formula="tuition - paid", returns=T.MONEY, scale=2),
                    Field("share", T.FORMULA, formula="paid / tuition * 100", returns=T.DECIMAL, scale=1),
                ),
                rollups=rollups,
            ),
            ObjectDef(
                "fee_payment",
                "student",
                (
                    Field("student", T.LOOKUP, to="student", required=True),
                    Field("amount", T.MONEY, scale=2),
                    Field("due_on", T.DATE),
                    Field("status", T.CHOICE, default="due", choices=(Choice("due"), Choice("paid"))),
                ),
            ),
            ObjectDef(
                "absence",
                "student",
                (
                    Field("student", T.LOOKUP, to="student", required=True),
                    Field("excused", T.BOOLEAN, default=False),
                ),
            ),
        ),
    )


class School:
    def __init__(self, engine: Engine, blueprint: Blueprint | None = None) -> None:
        self.blueprint = blueprint or school()
        migrate(engine, self.blueprint)
        self.clock = Clock()
        self.service = RecordService(self.blueprint, engine, build_tables(self.blueprint), clock=self.clock)
        self.engine = engine

    def student(self, name: str, tuition: str = "1000") -> dict:
        return self.service.create("student", {"name": name, "tuition": tuition}, actor=SYSTEM)

    def fee(self, student: dict, amount: str, status: str = "due", days: int = 10) -> dict:
        due = self.clock().date() + dt.timedelta(days=days)
        values = {"student": student["id"], "amount": amount, "status": status, "due_on": due}
        return self.service.create("fee_payment", values, actor=SYSTEM)

    def get(self, student: dict) -> dict:
        return self.service.get("student", student["id"], actor=SYSTEM)

    def names(self, **options) -> list[str]:
        return [r["name"] for r in self.service.list("student", actor=SYSTEM, **options).records]


@pytest.fixture
def s(engine: Engine) -> School:
    return School(engine)


def test_sums_counts_min_and_max_fold_the_children_that_match_where(s: School) -> None:
    ann = s.student("Ann")
    s.fee(ann, "300", "paid", days=-20)
    s.fee(ann, "200", "due", days=-2)
    s.fee(ann, "150", "due", days=5)
    s.service.create("absence", {"student": ann["id"]}, actor=SYSTEM)
    s.service.create("absence", {"student": ann["id"], "excused": True}, actor=SYSTEM)
    got = s.get(ann)
    assert (got["paid"], got["owed"], got["late"], got["fees"]) == (D("300.00"), D("350.00"), D("200.00"), 3)
    assert got["next_due"] == s.clock().date() - dt.timedelta(days=2)
    assert (got["largest"], got["absences"]) == (D("300.00"), 1)
    # No children: sums and counts are zero, min and max have nothing to show.
    bob = s.get(s.student("Bob"))
    assert (bob["paid"], bob["fees"], bob["absences"], bob["next_due"], bob["largest"]) == (
        D("0.00"), 0, 0, None, None,
    )  # fmt: skip


def test_deleted_children_do_not_count_until_restored(s: School) -> None:
    ann = s.student("Ann")
    s.fee(ann, "300", "paid")
    gone = s.fee(ann, "500", "paid")
    s.service.delete("fee_payment", gone["id"], actor=SYSTEM)
    assert (s.get(ann)["paid"], s.get(ann)["fees"]) == (D("300.00"), 1)
    s.service.restore("fee_payment", gone["id"], actor=SYSTEM)
    assert s.get(ann)["paid"] == D("800.00")


def test_today_in_where_follows_the_service_clock(s: School) -> None:
    ann = s.student("Ann")
    s.fee(ann, "200", "due", days=3)
    assert s.get(ann)["late"] == D("0.00")
    s.clock.advance(days=4)
    assert s.get(ann)["late"] == D("200.00")


def test_a_formula_over_a_roll_up_is_right_after_a_child_changes(s: School) -> None:
    ann = s.student("Ann", "1000")
    assert (s.get(ann)["balance"], s.get(ann)["share"]) == (D("1000.00"), D("0.0"))
    fee = s.fee(ann, "250", "due")
    assert s.get(ann)["balance"] == D("1000.00")
    s.service.update("fee_payment", fee["id"], {"status": "paid"}, version=fee["version"], actor=SYSTEM)
    got = s.get(ann)
    assert (got["balance"], got["share"]) == (D("750.00"), D("25.0"))
    # No tuition: the share divides by nothing and is empty, not an error.
    assert s.get(s.student("Bob", "0"))["share"] is None
    # Writes answer the record with its roll-ups and formulas too.
    renamed = s.service.update("student", ann["id"], {"name": "Anne"}, version=ann["version"], actor=SYSTEM)
    assert (renamed["paid"], renamed["balance"]) == (D("250.00"), D("750.00"))


def test_filter_and_sort_by_a_roll_up_and_a_formula_over_one_with_cursor_pages(s: School) -> None:
    for name, paid in (("Ann", "300"), ("Bob", "900"), ("Cai", "0"), ("Dan", "600")):
        student = s.student(name)
        s.fee(student, paid, "paid")
    assert s.names(filters=[Condition("paid", FilterOp.GTE, "500")], sort="paid") == ["Dan", "Bob"]
    assert s.names(sort="-paid") == ["Bob", "Dan", "Ann", "Cai"]
    assert s.names(sort="-balance") == ["Cai", "Ann", "Dan", "Bob"]
    assert s.names(filters=[Condition("balance", FilterOp.LT, "500")]) == ["Bob", "Dan"]
    assert s.service.count("student", actor=SYSTEM, filters=[Condition("fees", FilterOp.EQ, 1)]) == 4
    first = s.service.list("student", actor=SYSTEM, sort="-paid", limit=3)
    rest = s.service.list("student", actor=SYSTEM, sort="-paid", limit=3, cursor=first.next)
    assert [r["name"] for r in first.records + rest.records] == ["Bob", "Dan", "Ann", "Cai"]
    with pytest.raises(QueryError) as unknown:
        s.names(filters=[Condition("payd", FilterOp.GTE, "1")])
    assert unknown.value.field == "payd" and "did you mean 'paid'" in unknown.value.message


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_a_page_of_parents_costs_the_same_statements_whatever_its_length(s: School) -> None:
    for i in range(12):
        student = s.student(f"S{i:02d}")
        s.fee(student, "10", "paid")
        s.service.create("absence", {"student": student["id"]}, actor=SYSTEM)
    counts = {}
    for limit in (2, 12):
        with statements(s.engine) as seen:
            page_ = s.service.list("student", actor=SYSTEM, limit=limit)
        assert all(r["paid"] == D("10.00") and r["absences"] == 1 for r in page_.records)
        counts[limit] = len(seen)
        # Two child objects, one statement reading them: their grouped sub-selects are joined to the page.
        assert len([sql for sql in seen if "GROUP BY" in sql]) == 1, seen
    assert counts[2] == counts[12]


def test_writing_a_roll_up_is_refused_keyed_by_its_name_and_changes_nothing(s: School) -> None:
    ann = s.student("Ann")
    with pytest.raises(ValidationError) as refused:
        s.service.update(
            "student", ann["id"], {"name": "X", "paid": "5"}, version=ann["version"], actor=SYSTEM
        )
    assert refused.value.fields == {
        "paid": "'paid' is a roll-up of fee_payment records and cannot be written"
    }
    with pytest.raises(ValidationError) as created:
        s.service.create("student", {"name": "Y", "balance": "1", "fees": 2}, actor=SYSTEM)
    assert set(created.value.fields) == {"balance", "fees"}
    assert s.names() == ["Ann"] and s.get(ann)["version"] == ann["version"]


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ('status == "payed"', "'payed' is not a choice of status"),
        ("len(status) > 2", "is not accepted"),
        ("due_on < 5", "cannot compare date with number"),
        ("amount > 1 > 0", "chained comparisons"),
        ("grade == 1", "'grade' is not a field of fee_payment"),
        ("status", "is not a condition"),
    ],
)
def test_a_where_outside_the_accepted_subset_is_refused_naming_the_roll_up(
    engine: Engine, where: str, problem: str
) -> None:
    bad = school((Rollup("paid", K.SUM, "fee_payment", "amount", "student", where),))
    with pytest.raises(RollupError) as refused:
        RecordService(bad, engine)
    assert refused.value.rollup == "paid" and problem in refused.value.message


# -- the contract's payments on b2b_sales ---------------------------------------------------------


@pytest.fixture
def sales(engine: Engine) -> Sales:
    return make_sales(engine)


def pay(sales: Sales, contract: dict, amount: str, actor: Actor, days: int, received: bool = False) -> dict:
    """Plan an instalment due in ``days`` days, or record cash received (finance only)."""
    today = sales.clock().date()
    values = {"contract": contract["id"], "amount": amount, "expected_on": today + dt.timedelta(days=days)}
    if received:
        values.update(status="received", received_on=today)
    return sales.service.create("payment", values, actor=actor)


def test_contract_payments_compare_amount_planned_received_overdue_and_outstanding(sales: Sales) -> None:
    account = sales.service.create("account", {"name": "Acme"}, actor=sales.rep)
    values = {"name": "Acme 2024", "account": account["id"], "amount": "100000"}
    contract = sales.service.create("contract", values, actor=sales.rep)
    empty = sales.service.create(
        "contract", {"name": "Empty", "account": account["id"], "amount": "5000"}, actor=sales.rep
    )
    finance = Actor(add_user(sales.service.engine, sales.service, "fay@example.com", role="finance"))
    pay(sales, contract, "40000", finance, 0, received=True)
    pay(sales, contract, "30000", sales.rep, -3)
    pay(sales, contract, "20000", sales.rep, 30)
    cancelled = pay(sales, contract, "99999", sales.rep, 0)
    sales.service.delete("payment", cancelled["id"], actor=finance)

    # The rep cannot read finance's payment (payment read: own), yet the contract counts it:
    # a roll-up is a property of the contract, seen by whoever sees the contract.
    assert sales.service.count("payment", actor=sales.rep) == 2
    got = sales.service.get("contract", contract["id"], actor=sales.rep)
    assert (got["received"], got["planned"], got["overdue"]) == (D("40000.00"), D("50000.00"), D("30000.00"))
    assert (got["outstanding"], got["unscheduled"]) == (D("60000.00"), D("10000.00"))
    other = sales.service.get("contract", empty["id"], actor=sales.rep)
    assert (other["received"], other["outstanding"]) == (D("0.00"), D("5000.00"))
    # A month later the second instalment is late too.
    sales.clock.advance(days=31)
    assert sales.service.get("contract", contract["id"], actor=sales.rep)["overdue"] == D("50000.00")
    owing = sales.service.list(
        "contract",
        actor=sales.rep,
        filters=[Condition("outstanding", FilterOp.GT, "10000")],
        sort="-outstanding",
    )
    assert [r["name"] for r in owing.records] == ["Acme 2024"]


def _contract_web(engine: Engine):
    from crm_platform.metadata import load_blueprint
    from crm_platform.resources import blueprints_dir

    web = make_web_app(engine, load_blueprint(blueprints_dir() / "b2b_sales.yaml"))
    users = web.services.users
    users.add("mia@example.com", role="sales_manager", name="Mia")
    rep = users.add("ana@example.com", role="sales_rep", name="Ana", manager_email="mia@example.com")
    finance = users.add("fay@example.com", role="finance", name="Fay")
    records = web.services.records
    account = records.create("account", {"name": "Acme"}, actor=Actor(rep.id, role=rep.role))
    contract = records.create(
        "contract",
        {"name": "Acme 2024", "account": account["id"], "amount": "100000"},
        actor=Actor(rep.id, role=rep.role),
    )
    records.create(
        "payment",
        {"contract": contract["id"], "amount": "40000", "status": "received"},
        actor=Actor(finance.id, role=finance.role),
    )
    return web, rep, contract


def test_the_contract_page_and_list_show_received_and_outstanding_as_money(engine: Engine) -> None:
    web, rep, contract = _contract_web(engine)
    browser = web.browser(rep)
    soup = page(browser.get(f"/o/contract/{contract['id']}"))
    assert texts(soup, '.field-section [data-field="received"] dd') == ["40,000.00"]
    assert texts(soup, '.field-section [data-field="outstanding"] dd') == ["60,000.00"]
    assert "Payments" in texts(soup, ".field-section summary h2")
    listing = page(browser.get("/o/contract?view=all"))
    cells = {td["data-label"]: td.get_text(strip=True) for td in listing.select("tbody tr td.cell")}
    assert (cells["Received"], cells["Outstanding"]) == ("40,000.00", "60,000.00")
    web.services.users.set_language(rep.id, "zh")
    chinese = page(browser.get(f"/o/contract/{contract['id']}"))
    assert {"已回款", "待回款"} <= set(texts(chinese, ".field-section dt"))
    assert "回款" in texts(chinese, ".field-section summary h2")


def test_the_api_reads_filters_and_sorts_roll_ups_and_refuses_writing_one(engine: Engine) -> None:
    web, rep, contract = _contract_web(engine)
    api = web.client(token=web.token(rep))
    answer = api.get(f"/api/v1/records/contract/{contract['id']}").json()
    assert (answer["received"], answer["outstanding"]) == ("40000.00", "60000.00")
    found = api.get("/api/v1/records/contract", params={"received__gte": "100", "sort": "-outstanding"})
    assert [r["id"] for r in found.json()["data"]] == [contract["id"]]
    assert api.get("/api/v1/records/contract", params={"received__gte": "50000"}).json()["data"] == []
    refused = api.patch(
        f"/api/v1/records/contract/{contract['id']}", json={"received": "1", "version": answer["version"]}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {
        "received": "'received' is a roll-up of payment records and cannot be written"
    }
    schema = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert schema["contract"]["properties"]["received"]["readOnly"] is True
    assert "received" not in schema["contract_patch"]["properties"]
