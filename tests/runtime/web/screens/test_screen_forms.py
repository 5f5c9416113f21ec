"""Create and edit forms (UI.md 5): saving, inline errors, mass assignment, conflicts, locks, lookups.

Most tests run on the small SALES blueprint (no permissions); the ones about
hidden and read-only fields, scopes, approval locks and Chinese labels use
SHOP below, a blueprint with ``permissions:``, an approval and bilingual labels.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from bs4 import Tag
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint_text
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.screens.forms import routes as forms
from tests.support.html import one, page, texts
from tests.support.web_fixtures import Browser, WebApp, make_web_app

SHOP = load_blueprint_text(
    """\
blueprint: shop
version: 1
label: {en: Shop, zh: 商店}
roles: [sales_rep, sales_manager, finance, admin]
objects:
  account:
    label: {en: Account, zh: 客户}
    plural: {en: Accounts, zh: 客户}
    title: name
    fields:
      name: {type: text, required: true, label: {en: Name, zh: 名称}}
  deal:
    label: {en: Deal, zh: 交易}
    plural: {en: Deals, zh: 交易}
    title: name
    fields:
      name:
        type: text
        required: true
        label: {en: Deal name, zh: 交易名称}
        help: {en: What is sold, zh: 卖什么}
      account: {type: lookup, to: account, label: {en: Account, zh: 客户}}
      amount: {type: money, min: 0, label: {en: Amount, zh: 金额}}
      margin: {type: percent, label: {en: Margin, zh: 利润率}}
      score: {type: integer, label: {en: Score, zh: 评分}}
      is_key: {type: boolean, label: {en: Key deal, zh: 重点交易}}
      stage: {type: stage, label: {en: Stage, zh: 阶段}}
    stages:
      - {name: open, label: {en: Open, zh: 进行中}}
      - {name: won, outcome: won}
      - {name: lost, outcome: lost}
    forms:
      default:
        sections:
          - label: {en: Deal, zh: 交易信息}
            fields: [name, account, amount, margin, score, is_key, stage]
approvals:
  review:
    label: {en: Deal review, zh: 交易审核}
    object: deal
    steps:
      - approver: role sales_manager
permissions:
  sales_rep:
    deal: {read: own, create: own, edit: own, fields: {margin: hidden, score: read_only}}
    account: {read: own, create: own, edit: own}
  sales_manager:
    "*": {read: all, create: all, edit: all}
  finance:
    "*": {read: all}
""",
    "shop.yaml",
)


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine)


@pytest.fixture
def shop(engine: Engine) -> WebApp:
    return make_web_app(engine, blueprint=SHOP)


def signed_in(web: WebApp, email: str, role: str = "admin") -> Browser:
    return web.browser(web.add_user(email, role=role))


def actor(user: User) -> Actor:
    return Actor(user.id, is_admin=user.role == "admin", role=user.role, team_id=user.team_id)


def as_submitted(form: Tag, **changes: object) -> dict[str, object]:
    """What a browser would post from ``form`` (csrf_token aside), with ``changes`` typed in."""
    data: dict[str, object] = {}
    for node in form.select("#record-form input[name], #record-form textarea[name]"):
        if node["name"] == "csrf_token":
            continue
        if node.get("type") == "checkbox":
            if node.has_attr("checked"):
                data.setdefault(node["name"], []).append(node["value"])  # type: ignore[union-attr]
        else:
            data[node["name"]] = node.get_text() if node.name == "textarea" else node.get("value", "")
    for select in form.select("#record-form select[name]"):
        chosen = select.select_one("option[selected]")
        data[select["name"]] = chosen["value"] if chosen else ""
    data.update(changes)
    return data


def make_account(web: WebApp, user: User, name: str) -> int:
    return int(web.services.records.create("account", {"name": name}, actor=actor(user))["id"])


# -- create ----------------------------------------------------------------------------------------


def test_a_valid_create_form_saves_the_record_and_goes_to_its_page(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")
    form = page(browser.get("/o/opportunity/new"))
    assert one(form, "form#record-form")["method"] == "post"
    assert one(form, "button[type=submit][data-action=save]").get_text(strip=True) == "Save"

    response = browser.post(
        "/o/opportunity/new",
        {
            "name": "Big deal",
            "account": str(acme),
            "amount": "1200.50",
            "close_date": "2024-06-30",
            "tags": ["hot", "strategic"],
            "discount": "",
        },
    )

    assert response.status_code == 303
    path, _, query = response.headers["location"].partition("?")
    record_id = int(path.rsplit("/", 1)[1])
    assert path == f"/o/opportunity/{record_id}" and query == "saved=1"
    deal = web.services.records.get("opportunity", record_id, actor=actor(browser.user))
    assert deal["name"] == "Big deal"
    assert deal["account"] == acme
    assert deal["amount"] == Decimal("1200.50")
    assert deal["close_date"] == dt.date(2024, 6, 30)
    assert deal["tags"] == ["hot", "strategic"]
    assert deal["discount"] is None  # emptied on purpose: None, not "" nor the default
    assert deal["owner_id"] == browser.user.id
    landed = page(browser.get(response.headers["location"]))
    assert texts(landed, "[data-saved]") == ["Saved."]


def test_the_create_form_lays_out_widgets_by_type_without_stage_or_computed_fields(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    form = page(browser.get("/o/opportunity/new"))
    names = {node["name"] for node in form.select("#record-form [name]")} - {"csrf_token"}
    assert names == {"name", "account", "amount", "discount", "close_date", "tags", "reviewer", "seats"}
    assert one(form, "#f-amount")["inputmode"] == "decimal"
    assert one(form, "#f-discount")["data-max"] == "100"
    assert one(form, "#f-close_date")["type"] == "date"
    assert one(form, "#f-close_date")["value"] == "2024-05-01"  # default "today" from the app's clock
    assert [box["value"] for box in form.select("input[name=tags][type=checkbox]")] == [
        "hot",
        "follow_up",
        "strategic",
    ]
    assert texts(form, "#f-reviewer option") == ["— none —", "ann"]  # active users
    required = one(form, "#f-name")
    assert required["aria-required"] == "true"
    assert texts(form, "label[for=f-name]") == ["Name * required"]
    assert one(form, "label[for=f-name] .visually-hidden").get_text() == "required"


def test_a_missing_required_field_answers_422_with_the_error_and_keeps_what_was_typed(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")

    response = browser.post(
        "/o/opportunity/new",
        {"name": "  ", "account": str(acme), "amount": "300", "tags": ["follow_up"], "seats": "4"},
    )

    assert response.status_code == 422
    form = page(response)
    assert texts(form, "#err-name") == ["This field is required."]
    name = one(form, "#f-name")
    assert name["aria-invalid"] == "true" and name["aria-describedby"] == "err-name"
    assert name.has_attr("autofocus")
    summary = one(form, "div.alert.error[role=alert]")
    assert [a["href"] for a in summary.select("a")] == ["#f-name"]
    assert texts(summary, "a") == ["Name: This field is required."]
    assert one(form, "#f-amount")["value"] == "300"
    assert one(form, "#f-seats")["value"] == "4"
    assert one(form, f"#f-account option[value='{acme}']").has_attr("selected")
    assert [box["value"] for box in form.select("input[name=tags][checked]")] == ["follow_up"]
    assert web.services.records.count("opportunity", actor=actor(browser.user)) == 0


def test_values_of_the_wrong_type_are_refused_and_shown_again_as_typed(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")

    response = browser.post(
        "/o/opportunity/new",
        {"name": "Deal", "account": str(acme), "amount": "abc", "close_date": "2024-13-45"},
    )

    assert response.status_code == 422
    form = page(response)
    assert one(form, "#f-amount")["value"] == "abc"
    assert one(form, "#f-close_date")["value"] == "2024-13-45"
    # A date input would empty itself holding that; a text input keeps it on screen.
    assert one(form, "#f-close_date")["type"] == "text"
    assert texts(form, "#err-amount") and texts(form, "#err-close_date")
    assert [a["href"] for a in form.select(".alert.error a")] == ["#f-amount", "#f-close_date"]
    assert one(form, "#f-amount").has_attr("autofocus")
    assert not one(form, "#f-close_date").has_attr("autofocus")
    assert one(form, "#f-name")["value"] == "Deal"


def test_a_hand_made_create_post_cannot_set_stage_owner_version_or_computed_fields(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    other = web.add_user("bob@example.com", role="admin")
    acme = make_account(web, browser.user, "Acme")

    response = browser.post(
        "/o/opportunity/new",
        {
            "name": "Deal",
            "account": str(acme),
            "stage": "won",
            "owner_id": str(other.id),
            "version": "7",
            "number": "OPP-999999",
            "net_amount": "5",
            "created_by": str(other.id),
        },
    )

    assert response.status_code == 303
    deal = web.services.records.list("opportunity", actor=actor(browser.user)).records[0]
    assert deal["stage"] == "initial_contact"
    assert deal["owner_id"] == browser.user.id
    assert deal["created_by"] == browser.user.id
    assert deal["version"] == 1
    assert deal["number"] == "OPP-000001"


def test_the_form_is_prefilled_from_the_query_string(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")
    make_account(web, browser.user, "Globex")

    form = page(browser.get(f"/o/contact/new?account={acme}&name=Li+Lei&owner_id=99"))

    assert one(form, "#f-name")["value"] == "Li Lei"
    assert texts(form, "#f-account option[selected]") == ["Acme"]
    assert not form.select("[name=owner_id]")


def test_unknown_objects_are_a_404_page(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    response = browser.get("/o/spaceship/new")
    assert response.status_code == 404
    assert texts(page(response), "h1") == ["Not found"]


# -- edit ------------------------------------------------------------------------------------------


def test_an_edit_saves_the_changes_and_an_unticked_box_becomes_false(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    record = web.services.records.create(
        "account", {"name": "Acme", "is_key": True, "tags": ["vip"]}, actor=actor(browser.user)
    )
    form = page(browser.get(f"/o/account/{record['id']}/edit"))
    assert one(form, "input[name=version]")["type"] == "hidden"
    assert one(form, "input[name=version]")["value"] == "1"
    assert one(form, "#f-is_key").has_attr("checked")
    assert one(form, "#f-name")["value"] == "Acme"

    response = browser.post(
        f"/o/account/{record['id']}/edit",
        {"version": "1", "name": "Acme Ltd", "tier": "high_value", "employees": "12", "tags": ["hot", "vip"]},
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/o/account/{record['id']}?saved=1"
    saved = web.services.records.get("account", record["id"], actor=actor(browser.user))
    assert saved["name"] == "Acme Ltd"
    assert saved["is_key"] is False
    assert saved["tier"] == "high_value"
    assert saved["employees"] == 12
    assert saved["tags"] == ["hot", "vip"]
    assert saved["version"] == 2


def test_saving_an_unchanged_form_writes_nothing(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")
    deal = web.services.records.create(
        "opportunity",
        {"name": "Deal", "account": acme, "amount": "12.5", "tags": ["hot"]},
        actor=actor(browser.user),
    )
    form = page(browser.get(f"/o/opportunity/{deal['id']}/edit"))
    posted = as_submitted(form)
    assert posted["amount"] == "12.50" and posted["tags"] == ["hot"]

    response = browser.post(f"/o/opportunity/{deal['id']}/edit", posted)

    assert response.status_code == 303
    again = web.services.records.get("opportunity", deal["id"], actor=actor(browser.user))
    assert again["version"] == 1


def test_a_hand_made_edit_post_cannot_move_the_stage_or_the_owner(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    other = web.add_user("bob@example.com", role="admin")
    acme = make_account(web, browser.user, "Acme")
    deal = web.services.records.create(
        "opportunity", {"name": "Deal", "account": acme}, actor=actor(browser.user)
    )

    response = browser.post(
        f"/o/opportunity/{deal['id']}/edit",
        {
            "version": "1",
            "name": "Deal 2",
            "account": str(acme),
            "stage": "won",
            "owner_id": str(other.id),
            "number": "X",
        },
    )

    assert response.status_code == 303
    saved = web.services.records.get("opportunity", deal["id"], actor=actor(browser.user))
    assert (saved["name"], saved["stage"], saved["owner_id"]) == (
        "Deal 2",
        "initial_contact",
        browser.user.id,
    )
    assert saved["number"] == deal["number"]


def test_the_edit_form_shows_the_stage_and_computed_fields_as_text(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")
    deal = web.services.records.create(
        "opportunity", {"name": "Deal", "account": acme, "amount": "100"}, actor=actor(browser.user)
    )
    form = page(browser.get(f"/o/opportunity/{deal['id']}/edit"))
    assert not form.select("[name=stage], [name=number], [name=net_amount]")
    assert texts(form, "[data-readonly=number]") == ["OPP-000001"]
    assert texts(form, "[data-readonly=stage]") == ["Initial contact"]
    assert texts(form, "[data-readonly=net_amount]") == ["100.00"]


def test_an_edit_error_keeps_the_input_and_the_version_edited(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    record = web.services.records.create("account", {"name": "Acme"}, actor=actor(browser.user))

    response = browser.post(
        f"/o/account/{record['id']}/edit", {"version": "1", "name": "Acme 2", "employees": "0"}
    )

    assert response.status_code == 422
    form = page(response)
    assert one(form, "#f-employees")["value"] == "0"
    assert one(form, "#f-name")["value"] == "Acme 2"
    assert one(form, "input[name=version]")["value"] == "1"
    assert texts(form, "#err-employees")
    assert web.services.records.get("account", record["id"], actor=actor(browser.user))["name"] == "Acme"


# -- conflicts -------------------------------------------------------------------------------------


def test_a_stale_version_answers_409_with_theirs_and_mine_and_keep_mine_then_saves(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    li = web.add_user("li@example.com", role="admin")
    acme = make_account(web, browser.user, "Acme")
    deal = web.services.records.create(
        "opportunity", {"name": "Deal", "account": acme, "amount": "100"}, actor=actor(browser.user)
    )
    loaded = page(browser.get(f"/o/opportunity/{deal['id']}/edit"))
    web.clock.advance(minutes=5)
    web.services.records.update(
        "opportunity", deal["id"], {"amount": "150", "seats": "3"}, version=1, actor=actor(li)
    )
    web.clock.advance(minutes=2)

    response = browser.post(f"/o/opportunity/{deal['id']}/edit", as_submitted(loaded, amount="120"))

    assert response.status_code == 409
    form = page(response)
    assert texts(form, "#conflict-title") == ["li changed this record 2 minutes ago"]
    rows = {
        row["data-field"]: (texts(row, ".theirs")[0], texts(row, ".mine")[0])
        for row in form.select(".conflict-table tbody tr")
    }
    assert rows == {"amount": ("150.00", "120.00"), "seats": ("3", "—")}  # close_date etc. agree
    assert one(form, "#f-amount")["value"] == "120"  # my input kept
    assert one(form, "input[name=version]")["value"] == "2"  # Keep mine re-submits over theirs
    keep = one(form, "button[data-action=keep-mine]")
    assert keep["type"] == "submit" and keep["form"] == "record-form"
    assert one(form, "a[data-action=load-theirs]")["href"] == f"/o/opportunity/{deal['id']}/edit"
    assert web.services.records.get("opportunity", deal["id"], actor=actor(li))["amount"] == Decimal("150")

    kept = browser.post(f"/o/opportunity/{deal['id']}/edit", as_submitted(form))

    assert kept.status_code == 303
    saved = web.services.records.get("opportunity", deal["id"], actor=actor(li))
    assert (saved["amount"], saved["seats"], saved["version"]) == (Decimal("120"), None, 3)


# -- lookups ---------------------------------------------------------------------------------------


def test_the_lookup_type_ahead_lists_matching_records_recent_first_with_create_last(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    older = make_account(web, browser.user, "Acme East")
    web.clock.advance(minutes=1)
    newer = make_account(web, browser.user, "Acme West")
    make_account(web, browser.user, "Globex")

    response = browser.get("/o/opportunity/lookup/account?q=acme")

    assert response.status_code == 200
    fragment = page(response)
    options = fragment.select("li[role=option][data-id]")
    assert [(o["data-id"], o["data-title"]) for o in options] == [
        (str(newer), "Acme West"),
        (str(older), "Acme East"),
    ]
    create = fragment.select("li[role=option]")[-1]
    assert create.select_one("a")["href"] == "/o/account/new?name=acme"
    assert texts(create, "a") == ["+ Create “acme”"]


def test_a_lookup_with_many_target_records_is_an_id_input_with_its_title(
    web: WebApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forms, "SELECT_LIMIT", 1)
    browser = signed_in(web, "ann@example.com")
    acme = make_account(web, browser.user, "Acme")
    make_account(web, browser.user, "Globex")

    form = page(browser.get(f"/o/contact/new?account={acme}"))

    box = one(form, ".lookup[data-lookup-url]")
    assert box["data-lookup-url"] == "/o/contact/lookup/account"
    assert one(box, "input[name=account]")["value"] == str(acme)
    assert texts(box, "[data-lookup-title]") == ["Acme"]
    assert not form.select("select[name=account]")


def test_lookup_of_an_unknown_or_non_lookup_field_is_404(web: WebApp) -> None:
    browser = signed_in(web, "ann@example.com")
    assert browser.get("/o/opportunity/lookup/amount?q=a").status_code == 404
    assert browser.get("/o/opportunity/lookup/nothing?q=a").status_code == 404


# -- permissions, locks, language (SHOP) -----------------------------------------------------------


def test_lookups_offer_only_records_the_user_may_read(shop: WebApp) -> None:
    ann = shop.add_user("ann@example.com", role="sales_rep")
    bob = shop.add_user("bob@example.com", role="sales_rep")
    mine = make_account(shop, ann, "Acme mine")
    make_account(shop, bob, "Acme of Bob")
    browser = shop.browser(ann)

    fragment = page(browser.get("/o/deal/lookup/account?q=acme"))
    assert [o["data-title"] for o in fragment.select("li[data-id]")] == ["Acme mine"]

    form = page(browser.get("/o/deal/new"))
    assert texts(form, "#f-account option") == ["— none —", "Acme mine"]
    assert one(form, f"#f-account option[value='{mine}']")


def test_hidden_fields_never_appear_and_read_only_ones_are_text_and_both_ignored_when_posted(
    shop: WebApp,
) -> None:
    ann = shop.add_user("ann@example.com", role="sales_rep")
    browser = shop.browser(ann)
    create_form = page(browser.get("/o/deal/new"))
    assert not create_form.select("[name=margin], [data-field=margin], [name=score]")
    assert "Margin" not in create_form.get_text()

    response = browser.post("/o/deal/new", {"name": "Deal", "margin": "40", "score": "9", "stage": "won"})
    assert response.status_code == 303
    deal_id = int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])
    admin = Actor(None, is_admin=True)
    stored = shop.services.records.get("deal", deal_id, actor=admin)
    assert (stored["margin"], stored["score"], stored["stage"]) == (None, None, "open")

    shop.services.records.update("deal", deal_id, {"score": 7, "margin": "12"}, version=1, actor=admin)
    edit_form = page(browser.get(f"/o/deal/{deal_id}/edit"))
    assert texts(edit_form, "[data-readonly=score]") == ["7"]
    assert not edit_form.select("[name=score], [name=margin], [data-field=margin]")
    response = browser.post(
        f"/o/deal/{deal_id}/edit", {"version": "2", "name": "Deal 2", "score": "1", "margin": "99"}
    )
    assert response.status_code == 303
    stored = shop.services.records.get("deal", deal_id, actor=admin)
    assert (stored["name"], stored["score"], stored["margin"]) == ("Deal 2", 7, Decimal("12"))


def test_a_user_who_may_not_create_gets_a_403_page_and_nothing_is_created(shop: WebApp) -> None:
    fay = shop.add_user("fay@example.com", role="finance")
    browser = shop.browser(fay)

    assert browser.get("/o/deal/new").status_code == 403
    response = browser.post("/o/deal/new", {"name": "Deal"})

    assert response.status_code == 403
    assert texts(page(response), "h1") == ["Not allowed"]
    assert shop.services.records.count("deal", actor=Actor(None, is_admin=True)) == 0


def test_editing_a_record_outside_the_edit_scope_is_refused(shop: WebApp) -> None:
    ann = shop.add_user("ann@example.com", role="sales_rep")
    bob = shop.add_user("bob@example.com", role="sales_rep")
    deal = shop.services.records.create("deal", {"name": "Bob's"}, actor=actor(bob))
    browser = shop.browser(ann)
    assert browser.get(f"/o/deal/{deal['id']}/edit").status_code == 404  # not even readable
    assert browser.post(f"/o/deal/{deal['id']}/edit", {"version": "1", "name": "Mine"}).status_code == 404


def test_a_record_pending_approval_shows_the_lock_and_a_save_answers_409_keeping_the_input(
    shop: WebApp,
) -> None:
    ann = shop.add_user("ann@example.com", role="sales_rep")
    shop.add_user("mia@example.com", role="sales_manager")
    deal = shop.services.records.create("deal", {"name": "Deal"}, actor=actor(ann))
    shop.services.approvals.start("review", "deal", deal["id"], actor=actor(ann))
    browser = shop.browser(ann)

    form = page(browser.get(f"/o/deal/{deal['id']}/edit"))
    assert "Deal review" in texts(form, "#form-locked")[0]
    assert one(form, "fieldset.form-body").has_attr("disabled")
    assert one(form, "button[data-action=save]").has_attr("disabled")

    response = browser.post(f"/o/deal/{deal['id']}/edit", {"version": "1", "name": "Renamed", "amount": "5"})

    assert response.status_code == 409
    answer = page(response)
    assert "locked" in texts(answer, "#form-message")[0]
    assert one(answer, "#f-name")["value"] == "Renamed"
    assert one(answer, "#f-amount")["value"] == "5"
    assert shop.services.records.get("deal", deal["id"], actor=actor(ann))["name"] == "Deal"


def test_the_form_speaks_chinese_to_a_user_who_chose_it(shop: WebApp) -> None:
    ann = shop.add_user("ann@example.com", role="sales_rep")
    shop.services.users.set_language(ann.id, "zh")
    browser = shop.browser(ann)

    form = page(browser.get("/o/deal/new"))

    assert one(form, "html")["lang"] == "zh-CN"
    assert texts(form, "h1") == ["新建交易"]
    assert texts(form, "label[for=f-name]") == ["交易名称 * 必填"]
    assert texts(form, "#help-name") == ["卖什么"]
    assert texts(form, "fieldset.form-section > legend") == ["交易信息"]
    assert texts(form, "button[data-action=save]") == ["保存"]
    assert texts(form, "a[data-action=cancel]") == ["取消"]

    refused = page(browser.post("/o/deal/new", {"name": ""}))
    assert texts(refused, "#err-name") == ["此项为必填项。"]
    assert texts(refused, ".form-summary a") == ["交易名称: 此项为必填项。"]
