"""The list view (/o/{object}): scope, filters, sort and paging, hidden fields, inline edit, bulk, search."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import SYSTEM, Actor
from tests.support.html import one, page, texts
from tests.support.list_world import ListWorld, build_list_world


@pytest.fixture
def world(engine: Engine) -> ListWorld:
    return build_list_world(engine)


def _names(answer: Any) -> list[str]:
    return texts(page(answer), ".list-row th.title a")


def _csv(answer: Any) -> list[dict[str, str]]:
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


# -- scope --------------------------------------------------------------------------------------


def test_a_rep_sees_only_their_own_records_in_rows_count_and_sums(world: ListWorld) -> None:
    answer = world.browser(world.ann).get("/o/deal")
    assert answer.status_code == 200
    soup = page(answer)
    assert sorted(_names(answer)) == ["Alpha", "Beta", "Gamma"]
    assert texts(soup, "#list-count") == ["3 items"]
    assert texts(soup, ".sums td.money") == ["Total Amount: 3,500.00"]
    assert "Delta" not in answer.text
    # The manager reads everything.
    soup = page(world.browser(world.mia).get("/o/deal"))
    assert texts(soup, "#list-count") == ["4 items"]
    assert texts(soup, ".sums td.money") == ["Total Amount: 3,550.00"]


def test_search_is_grouped_by_object_and_scoped(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    soup = page(ann.get("/search?q=a"))
    groups = {g["data-object"]: texts(g, ".search-hits a") for g in soup.select(".search-group")}
    assert groups == {"account": ["Acme"], "deal": ["Alpha", "Beta", "Gamma"]}
    assert one(soup, '.search-group[data-object="deal"] .view-all')["href"] == "/o/deal?q=a"
    # Bob's deal is not found by Ann, and the hidden note of it does not match either.
    assert page(ann.get("/search?q=delta")).select(".search-group") == []
    assert page(ann.get("/search?q=secret")).select(".search-group") == []
    assert texts(page(world.browser(world.bob).get("/search?q=delta")), ".search-hits a") == ["Delta"]


def test_search_shows_five_per_object_and_offers_the_rest(world: ListWorld) -> None:
    records = world.web.services.records
    for n in range(6):
        records.create("deal", {"name": f"Zeta {n}", "owner_id": world.ann.id}, actor=SYSTEM)
    soup = page(world.browser(world.ann).get("/search?q=zeta"))
    assert len(soup.select(".search-hits a")) == 5
    assert texts(soup, ".view-all") == ["View all →"]


def test_export_is_scoped_and_leaves_hidden_fields_out(world: ListWorld) -> None:
    answer = world.browser(world.ann).get("/o/deal/export.csv?sort=name")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = _csv(answer)
    assert [r["Name"] for r in rows] == ["Alpha", "Beta", "Gamma"]
    assert "Margin" not in rows[0]
    assert rows[0]["Amount"] == "100.00"
    manager = _csv(world.browser(world.mia).get("/o/deal/export.csv?f=stage:is:open&sort=name"))
    assert [(r["Name"], r["Margin"]) for r in manager] == [("Alpha", "10.00"), ("Delta", "5.00")]


def test_a_user_without_read_scope_is_refused(world: ListWorld) -> None:
    intern = world.web.services.users.add("ivy@example.com", role="intern")
    assert world.browser(intern).get("/o/deal").status_code == 403
    assert world.browser(intern).get("/o/deal/export.csv").status_code == 403


# -- filters, sort, paging ----------------------------------------------------------------------


def test_the_new_operators_work_in_the_api_too(world: ListWorld) -> None:
    api = world.web.client(token=world.web.token(world.mia))

    def names(**params: str) -> list[str]:
        answer = api.get("/api/v1/records/deal", params={**params, "sort": "name"})
        assert answer.status_code == 200, answer.text
        return [r["name"] for r in answer.json()["data"]]

    assert names(note__not_contains="secret") == ["Alpha", "Beta", "Gamma"]
    assert names(note__empty="true") == ["Beta", "Gamma"]
    assert names(tags__empty="false") == ["Beta"]
    answer = api.get("/api/v1/records/deal", params={"note__empty": "maybe"})
    assert answer.status_code == 400
    assert "'empty' takes true or false" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("name:contains:TA", ["Beta", "Delta"]),
        ("name:not_contains:ta", ["Alpha", "Gamma"]),
        ("note:not_contains:secret", ["Alpha", "Beta", "Gamma"]),
        ("amount:gte:900", ["Beta", "Gamma"]),
        ("amount:lte:100", ["Alpha", "Delta"]),
        ("close_date:before:2024-04-21", ["Alpha", "Gamma"]),
        ("close_date:after:2024-05-01", ["Beta"]),
        ("close_date:today:", ["Delta"]),
        ("close_date:past:", ["Alpha", "Gamma"]),
        ("close_date:future:", ["Beta"]),
        ("close_date:last:15", ["Alpha", "Delta"]),
        ("seen_at:last:2", ["Gamma"]),
        ("seen_at:today:", []),
        ("stage:is:open", ["Alpha", "Delta"]),
        ("stage:not:open", ["Beta", "Gamma"]),
        ("priority:is:high", ["Beta"]),
        ("priority:not:high", ["Alpha", "Delta", "Gamma"]),
        ("reviewer:is:{bob}", ["Beta"]),
        ("owner_id:is:{bob}", ["Delta"]),
        ("account:is:{acme}", ["Alpha"]),
        ("account:not:{acme}", ["Beta", "Delta", "Gamma"]),
        ("tags:contains:hot", ["Beta"]),
        ("tags:not_contains:hot", ["Alpha", "Delta", "Gamma"]),
        ("tags:empty:", ["Alpha", "Delta", "Gamma"]),
        ("note:empty:", ["Beta", "Gamma"]),
        ("note:not_empty:", ["Alpha", "Delta"]),
        ("reviewer:empty:", ["Alpha", "Delta", "Gamma"]),
        ("amount:not_empty:", ["Alpha", "Beta", "Delta", "Gamma"]),
    ],
)
def test_each_filter_operator_filters_rows(world: ListWorld, spec: str, expected: list[str]) -> None:
    spec = spec.format(bob=world.bob.id, acme=world.acme["id"])
    answer = world.browser(world.mia).get("/o/deal", params={"f": spec, "sort": "name"})
    assert answer.status_code == 200
    assert _names(answer) == expected
    soup = page(answer)
    assert len(texts(soup, ".chip")) == 1
    if expected:
        assert texts(soup, "#list-count") == [f"{len(expected)} item{'s' if len(expected) > 1 else ''}"]


def test_the_filter_form_adds_a_chip_and_the_chip_removes_it(world: ListWorld) -> None:
    mia = world.browser(world.mia)
    answer = mia.get("/o/deal", params={"ff": "stage", "fo": "is", "fv": "proposal"})
    assert answer.status_code == 303
    answer = mia.get(answer.headers["location"])
    soup = page(answer)
    assert _names(answer) == ["Beta"]
    assert texts(soup, ".chip") == ["Stage: Proposal ×"]
    assert _names(mia.get(one(soup, ".chip-remove")["href"])) != ["Beta"]


def test_an_htmx_request_gets_the_list_region_and_the_address_to_push(world: ListWorld) -> None:
    answer = world.browser(world.mia).get(
        "/o/deal",
        params={"ff": "amount", "fo": "gte", "fv": "500"},
        headers={"HX-Request": "true", "HX-Target": "list-region"},
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<div id="list-region"')
    assert answer.headers["HX-Push-Url"] == "/o/deal?f=amount%3Agte%3A500&sort=-updated_at"
    assert sorted(_names(answer)) == ["Beta", "Gamma"]


def test_clicking_a_cell_value_links_to_the_list_filtered_by_it(world: ListWorld) -> None:
    mia = world.browser(world.mia)
    soup = page(mia.get("/o/deal?sort=name"))
    beta = one(soup, f"#row-{world.deals['Beta']['id']}")
    link = one(beta, 'td[data-label="Stage"] a.cell-filter')
    assert _names(mia.get(link["href"])) == ["Beta"]
    assert texts(beta, 'td[data-label="Stage"] .pill') == ["Proposal"]


def test_rows_show_money_right_aligned_stage_pills_owner_names_and_muted_won_rows(world: ListWorld) -> None:
    soup = page(world.browser(world.mia).get("/o/deal?sort=name&cols=name,amount,stage,owner_id,account"))
    gamma = one(soup, f"#row-{world.deals['Gamma']['id']}")
    assert "won" in gamma["class"]
    assert texts(gamma, ".pill.won") == ["Won"]
    alpha = one(soup, f"#row-{world.deals['Alpha']['id']}")
    assert texts(alpha, "td.money") == ["100.00"]
    assert texts(alpha, 'td[data-label="Owner"]') == ["Ann"]
    assert texts(alpha, 'td[data-label="Account"]') == ["Acme"]
    assert one(alpha, "th.title a")["href"] == f"/o/deal/{world.deals['Alpha']['id']}"
    assert texts(soup, ".list-table thead th")[1:] == ["Name ↑", "Amount", "Stage", "Owner", "Account"]


def test_sort_and_keyset_paging_with_load_more(world: ListWorld) -> None:
    records = world.web.services.records
    for n in range(60):
        records.create(
            "deal", {"name": f"Bulk {n:02}", "amount": str(1000 + n), "owner_id": world.ann.id}, actor=SYSTEM
        )
    ann = world.browser(world.ann)
    first = page(ann.get("/o/deal?sort=-amount"))
    names = texts(first, ".list-row th.title a")
    assert len(names) == 50
    assert names[:3] == ["Beta", "Bulk 59", "Bulk 58"]
    assert texts(first, "#list-shown") == ["50 of 63"]
    more = one(first, ".load-more")
    rest = ann.get(more["hx-get"], headers={"HX-Request": "true"})
    assert rest.status_code == 200
    soup = page(rest)
    following = texts(soup, ".list-row th.title a")
    assert len(following) == 13
    assert following[-2:] == ["Gamma", "Alpha"]
    assert not set(names) & set(following)
    cells = texts(first, ".list-row td.money") + texts(soup, ".list-row td.money")
    amounts = [Decimal(t.replace(",", "")) for t in cells]
    assert amounts == sorted(amounts, reverse=True)
    assert not soup.select(".load-more")
    assert texts(soup, "#list-shown") == ["63 of 63"]
    # Without JavaScript "Load more" is a page of its own.
    assert len(_names(ann.get(more["href"]))) == 13


def test_a_damaged_cursor_starts_again_from_the_first_page(world: ListWorld) -> None:
    answer = world.browser(world.ann).get("/o/deal?cursor=garbage")
    assert answer.status_code == 200
    assert len(_names(answer)) == 3
    assert "Left out cursor" in " ".join(texts(page(answer), ".list-problem"))


# -- hidden fields ------------------------------------------------------------------------------


def test_a_hidden_field_is_no_column_filter_or_sort_and_says_so(world: ListWorld) -> None:
    answer = world.browser(world.ann).get("/o/deal?f=margin:gte:40&sort=-margin&cols=name,margin,amount")
    assert answer.status_code == 200
    soup = page(answer)
    # The filter was left out (all three of Ann's deals), with one message naming the field.
    assert sorted(_names(answer)) == ["Alpha", "Beta", "Gamma"]
    assert texts(soup, ".list-problem") == ["Left out margin: unknown field 'margin' of deal"]
    assert texts(soup, ".list-table thead th")[1:] == ["Name", "Amount"]
    assert not soup.select("#fo-margin") and not soup.select('.columns-menu input[value="margin"]')
    assert "30.00" not in answer.text and "50.00" not in answer.text
    preview = world.browser(world.ann).get(f"/o/deal/{world.deals['Beta']['id']}/preview")
    assert "Margin" not in preview.text
    # The manager sees and filters by it.
    assert _names(world.browser(world.mia).get("/o/deal?f=margin:gte:40")) == ["Gamma"]


def test_the_service_refuses_a_search_naming_a_hidden_field(world: ListWorld) -> None:
    from crm_platform.metadata.model import Condition, FilterOp
    from crm_platform.runtime.errors import QueryError

    records = world.web.services.records
    with pytest.raises(QueryError):
        records.list(
            "deal", actor=Actor(world.ann.id), filters=[Condition("name|note|margin", FilterOp.SEARCH, "3")]
        )
    found = records.list(
        "deal", actor=Actor(world.ann.id), filters=[Condition("name|note", FilterOp.SEARCH, "CALL")]
    )
    assert [r["name"] for r in found.records] == ["Alpha"]


def test_the_service_refuses_sums_over_a_hidden_field(world: ListWorld) -> None:
    from crm_platform.runtime.errors import QueryError
    from crm_platform.runtime.records.totals import sums

    records = world.web.services.records
    with pytest.raises(QueryError):
        sums(records, "deal", ["margin"], actor=Actor(world.ann.id))
    assert sums(records, "deal", ["amount"], actor=Actor(world.ann.id)) == {"amount": Decimal("3500.00")}
    assert sums(records, "deal", ["amount"], actor=Actor(world.bob.id)) == {"amount": Decimal("50.00")}


# -- views, empty states, preview ----------------------------------------------------------------


def test_a_blueprint_list_view_sets_filter_columns_and_sort(world: ListWorld) -> None:
    soup = page(world.browser(world.ann).get("/o/deal?view=open"))
    assert texts(soup, ".view-menu h1") == ["Open deals ▾"]
    assert texts(soup, ".list-row th.title a") == ["Beta", "Alpha"]
    assert texts(soup, ".list-table thead th")[1:] == ["Name", "Amount ↓", "Stage"]
    assert texts(soup, ".list-meta") == ["2 items · sorted by Amount"]


def test_empty_states(world: ListWorld) -> None:
    newcomer = world.web.services.users.add("cid@example.com", role="sales_rep", name="Cid")
    soup = page(world.browser(newcomer).get("/o/deal"))
    assert texts(soup, ".list-empty .button") == ["Add your first Deal"]
    assert one(soup, ".list-empty .button")["href"] == "/o/deal/new"
    soup = page(world.browser(world.ann).get("/o/deal?q=nothing-like-this"))
    assert texts(soup, ".list-empty p") == ["No matches"]
    cleared = world.browser(world.ann).get(one(soup, ".clear-filters")["href"])
    assert len(_names(cleared)) == 3


def test_the_preview_shows_key_fields_and_open(world: ListWorld) -> None:
    answer = world.browser(world.ann).get(f"/o/deal/{world.deals['Beta']['id']}/preview")
    soup = page(answer)
    assert texts(soup, "#preview-title") == ["Beta"]
    fields = dict(zip(texts(soup, "dt"), texts(soup, "dd"), strict=True))
    assert fields["Amount"] == "2,500.00" and fields["Stage"] == "Proposal" and fields["Owner"] == "Ann"
    assert one(soup, "a.button")["href"] == f"/o/deal/{world.deals['Beta']['id']}"
    assert world.browser(world.ann).get(f"/o/deal/{world.deals['Delta']['id']}/preview").status_code == 404


# -- inline edit --------------------------------------------------------------------------------


def test_inline_edit_saves_through_the_record_service(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    alpha = world.deals["Alpha"]
    editor = page(ann.get(f"/o/deal/{alpha['id']}/cell/amount"))
    assert one(editor, "input[name=version]")["value"] == "1"
    answer = ann.post(f"/o/deal/{alpha['id']}/cell/amount", {"value": "150", "version": "1"})
    assert answer.status_code == 200
    assert "150.00" in answer.text and "pencil" in answer.text
    assert world.deal("Alpha")["amount"] == Decimal("150.00")


def test_a_refused_inline_edit_keeps_the_typed_value_and_shows_the_error(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    alpha = world.deals["Alpha"]
    answer = ann.post(f"/o/deal/{alpha['id']}/cell/amount", {"value": "-5", "version": "1"})
    assert answer.status_code == 422
    soup = page(answer)
    assert one(soup, "input[name=value]")["value"] == "-5"
    assert one(soup, "input[name=value]")["aria-invalid"] == "true"
    assert texts(soup, ".field-error") == ["must be at least 0"]
    # Stage criteria apply too: Proposal needs an amount.
    bare = world.web.services.records.create("deal", {"name": "Bare", "owner_id": world.ann.id}, actor=SYSTEM)
    answer = ann.post(f"/o/deal/{bare['id']}/cell/stage", {"value": "proposal", "version": "1"})
    assert answer.status_code == 422
    assert "required to enter stage" in answer.text


def test_a_stale_inline_edit_says_who_changed_the_record(world: ListWorld) -> None:
    alpha = world.deals["Alpha"]
    world.web.services.records.update(
        "deal", alpha["id"], {"amount": "120"}, version=1, actor=Actor(world.mia.id)
    )
    answer = world.browser(world.ann).post(
        f"/o/deal/{alpha['id']}/cell/amount", {"value": "150", "version": "1"}
    )
    assert answer.status_code == 409
    soup = page(answer)
    assert "Mia changed this record" in " ".join(texts(soup, ".field-error"))
    assert one(soup, "input[name=value]")["value"] == "150"
    # Saving again edits the current version.
    assert one(soup, "input[name=version]")["value"] == "2"
    assert world.deal("Alpha")["amount"] == Decimal("120.00")


def test_read_only_hidden_and_others_records_have_no_pencil(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    soup = page(ann.get("/o/deal?cols=name,note,amount,stage"))
    alpha = one(soup, f"#row-{world.deals['Alpha']['id']}")
    assert not alpha.select('td[data-label="Note"] .pencil')
    assert alpha.select('td[data-label="Amount"] .pencil')
    assert ann.get(f"/o/deal/{world.deals['Alpha']['id']}/cell/note").status_code == 403
    assert ann.get(f"/o/deal/{world.deals['Alpha']['id']}/cell/margin").status_code == 403
    assert ann.get(f"/o/deal/{world.deals['Delta']['id']}/cell/amount").status_code == 404


# -- bulk ---------------------------------------------------------------------------------------


def test_bulk_edit_reports_updated_and_refused_records(world: ListWorld) -> None:
    bare = world.web.services.records.create("deal", {"name": "Bare", "owner_id": world.ann.id}, actor=SYSTEM)
    ids = [world.deals["Alpha"]["id"], bare["id"], world.deals["Delta"]["id"]]
    answer = world.browser(world.ann).post(
        "/o/deal/bulk",
        {"ids": ids, "action": "edit", "field": "stage", "value": "proposal", "back": "sort=name"},
    )
    assert answer.status_code == 200
    soup = page(answer)
    assert texts(soup, ".list-notice p") == ["1 updated, 2 refused"]
    refused = texts(soup, ".list-notice .refused li")
    assert refused[0] == "Bare: amount: is required to enter stage Proposal"
    assert refused[1].startswith(f"#{world.deals['Delta']['id']}: ")
    assert world.deal("Alpha")["stage"] == "proposal"
    assert world.deal("Delta")["stage"] == "open"
    assert _names(answer)[:1] == ["Alpha"]  # the list comes back as it was (sorted by name)


def test_bulk_transfer_follows_the_edit_scope(world: ListWorld) -> None:
    ids = [world.deals["Alpha"]["id"], world.deals["Beta"]["id"]]
    answer = world.browser(world.ann).post(
        "/o/deal/bulk", {"ids": ids, "action": "transfer", "owner": world.bob.id}
    )
    assert texts(page(answer), ".list-notice p") == ["0 transferred, 2 refused"]
    assert world.deal("Alpha")["owner_id"] == world.ann.id
    answer = world.browser(world.mia).post(
        "/o/deal/bulk", {"ids": ids, "action": "transfer", "owner": world.bob.id}
    )
    assert texts(page(answer), ".list-notice p") == ["2 transferred"]
    assert world.deal("Beta")["owner_id"] == world.bob.id


def test_bulk_delete_and_export_of_selected_rows(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    ids = [world.deals["Alpha"]["id"], world.deals["Delta"]["id"]]
    exported = ann.post("/o/deal/bulk", {"ids": ids, "action": "export"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert [r["Name"] for r in _csv(exported)] == ["Alpha"]
    assert "Margin" not in exported.text.splitlines()[0]
    answer = ann.post("/o/deal/bulk", {"ids": ids, "action": "delete"})
    assert texts(page(answer), ".list-notice p") == ["1 deleted, 1 refused"]
    assert sorted(_names(answer)) == ["Beta", "Gamma"]
    assert world.deal("Delta")["name"] == "Delta"


def test_a_bulk_action_without_selection_says_so(world: ListWorld) -> None:
    answer = world.browser(world.ann).post("/o/deal/bulk", {"action": "delete"})
    assert answer.status_code == 422
    assert texts(page(answer), ".list-notice p") == ["Select at least one record."]


# -- language -----------------------------------------------------------------------------------


def test_the_list_speaks_chinese_to_a_chinese_user(world: ListWorld) -> None:
    world.web.set_user(world.ann.id, language="zh")
    soup = page(world.browser(world.ann).get("/o/deal?f=stage:is:proposal&cols=name,amount,stage"))
    assert texts(soup, ".view-menu h1") == ["全部 ▾"]
    assert texts(soup, ".list-meta") == ["1 条 · 按更新时间排序"]
    assert texts(soup, ".list-table thead th")[1:] == ["名称", "金额", "阶段"]
    assert texts(soup, ".chip") == ["阶段: 方案报价 ×"]
    assert texts(soup, ".sums td.money") == ["金额合计: 2,500.00"]
    assert texts(soup, ".filter-menu > summary") == ["+ 筛选"]
    soup = page(world.browser(world.ann).get("/search?q=zzz"))
    assert texts(soup, ".empty-state") == ["没有与“zzz”匹配的记录。"]
