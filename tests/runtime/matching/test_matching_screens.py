"""The duplicate panel of the create form and the merge screen (no JavaScript)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import NotFoundError
from crm_platform.runtime.people.users import User
from tests.support.html import one, page, texts
from tests.support.sales_fixtures import b2b_blueprint
from tests.support.web_fixtures import WebApp, make_web_app


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine, b2b_blueprint())


@pytest.fixture
def ana(web: WebApp) -> User:
    return web.add_user("ana@example.com", role="sales_rep")


def _create(web: WebApp, user: User, object: str, values: dict) -> dict:
    return web.services.records.create(object, values, actor=Actor(user.id))


def _count(web: WebApp, user: User, object: str) -> int:
    return web.services.records.count(object, actor=Actor(user.id))


def test_a_save_that_matches_shows_the_panel_and_saves_only_on_save_anyway(web: WebApp, ana: User) -> None:
    first = _create(web, ana, "lead", {"company": "Acme Co., Ltd.", "email": "wang@acme.cn"})
    browser = web.browser(ana)

    answer = browser.post("/o/lead/new", {"company": "ACME", "email": "Wang@Acme.cn", "contact_name": "Wang"})

    assert answer.status_code == 200
    html = page(answer)
    panel = one(html, "#form-duplicates")
    assert "Possible duplicate of …" in panel.get_text()
    link = one(panel, f"[data-duplicate='lead-{first['id']}'] a[data-duplicate-link]")
    assert link["href"] == f"/o/lead/{first['id']}" and link.get_text(strip=True) == "Acme Co., Ltd."
    assert "same Email, Company" in panel.get_text(" ", strip=True)
    # Nothing saved yet, and what was typed is still in the form.
    assert _count(web, ana, "lead") == 1
    assert one(html, "#f-company")["value"] == "ACME"
    save_anyway = one(panel, "[data-action='save-anyway']")
    assert (save_anyway["name"], save_anyway["value"], save_anyway["form"]) == (
        "save_anyway",
        "1",
        "record-form",
    )

    saved = browser.post(
        "/o/lead/new",
        {"company": "ACME", "email": "Wang@Acme.cn", "contact_name": "Wang", "save_anyway": "1"},
    )

    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    assert _count(web, ana, "lead") == 2


def test_a_save_without_a_match_is_saved_at_once(web: WebApp, ana: User) -> None:
    _create(web, ana, "lead", {"company": "Acme", "email": "wang@acme.cn"})
    answer = web.browser(ana).post("/o/lead/new", {"company": "Globex", "email": "li@globex.com"})
    assert answer.status_code == 303
    assert _count(web, ana, "lead") == 2


def test_a_match_the_user_may_not_read_is_never_shown(web: WebApp, ana: User) -> None:
    bo = web.add_user("bo@example.com", role="sales_rep")
    theirs = _create(web, bo, "lead", {"company": "Acme", "email": "wang@acme.cn"})
    answer = web.browser(ana).post("/o/lead/new", {"company": "Acme", "email": "wang@acme.cn"})
    # Ana's save goes through: the only match is Bo's, which she cannot see.
    assert answer.status_code == 303
    assert f"/o/lead/{theirs['id']}" not in answer.text


def test_the_panel_is_in_chinese_for_a_chinese_user(web: WebApp, ana: User) -> None:
    web.set_user(ana.id, language="zh")
    _create(web, ana, "account", {"name": "阿里巴巴（中国）有限公司"})
    answer = web.browser(ana).post("/o/account/new", {"name": "阿里巴巴(中国)股份有限公司"})
    panel = one(page(answer), "#form-duplicates")
    assert "可能与以下记录重复" in panel.get_text()
    assert one(panel, "[data-action='save-anyway']").get_text(strip=True) == "仍然保存"


def test_save_anyway_and_merge_opens_the_merge_screen_of_the_new_record(web: WebApp, ana: User) -> None:
    first = _create(web, ana, "account", {"name": "Acme"})
    browser = web.browser(ana)
    panel = one(page(browser.post("/o/account/new", {"name": "ACME Ltd"})), "#form-duplicates")
    button = one(panel, "[data-action='save-and-merge']")
    assert button["value"] == str(first["id"])

    answer = browser.post("/o/account/new", {"name": "ACME Ltd", "merge_with": str(first["id"])})

    assert answer.status_code == 303
    new_id = _count(web, ana, "account") and max(
        r["id"] for r in web.services.records.list("account", actor=Actor(ana.id)).records
    )
    assert answer.headers["location"] == f"/o/account/{new_id}/merge?other={first['id']}"


@pytest.fixture
def pair(web: WebApp, ana: User) -> tuple[dict, dict, dict]:
    keep = _create(web, ana, "account", {"name": "Acme", "industry": "ict"})
    other = _create(
        web, ana, "account", {"name": "ACME Inc.", "phone": "021-5555-1234", "industry": "logistics"}
    )
    contact = _create(web, ana, "contact", {"name": "Wang", "account": other["id"]})
    return keep, other, contact


def test_the_merge_screen_lists_duplicates_then_compares_the_two(web: WebApp, ana: User, pair) -> None:
    keep, other, _contact = pair
    browser = web.browser(ana)

    listing = page(browser.get(f"/o/account/{keep['id']}/merge"))
    pick = one(listing, f"[data-candidate='{other['id']}'] a[data-action='pick']")
    assert pick["href"] == f"/o/account/{keep['id']}/merge?other={other['id']}"

    answer = browser.get(pick["href"])
    assert answer.status_code == 200
    html = page(answer)
    # The survivor's value unless it is empty: name and industry from this one, phone from the other.
    assert one(html, "input[name='f_name'][value='this']").has_attr("checked")
    assert one(html, "input[name='f_industry'][value='this']").has_attr("checked")
    assert one(html, "input[name='f_phone'][value='other']").has_attr("checked")
    assert texts(html, "[data-move]") == ["Change history entries: 1", "Contacts (Account): 1"]
    assert one(html, "a[data-action='swap-survivor']")["href"].endswith("survivor=other")


def test_merging_from_the_screen_keeps_the_chosen_values_and_moves_related_records(
    web: WebApp, ana: User, pair
) -> None:
    keep, other, contact = pair
    answer = web.browser(ana).post(
        f"/o/account/{keep['id']}/merge",
        {
            "other": other["id"],
            "survivor": "this",
            "f_name": "other",
            "f_industry": "this",
            "f_phone": "other",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/o/account/{keep['id']}?saved=1&merged={other['id']}"
    records = web.services.records
    merged = records.get("account", keep["id"], actor=Actor(ana.id))
    assert (merged["name"], merged["industry"], merged["phone"]) == ("ACME Inc.", "ict", "021-5555-1234")
    assert records.get("contact", contact["id"], actor=Actor(ana.id))["account"] == keep["id"]
    with pytest.raises(NotFoundError):
        records.get("account", other["id"], actor=Actor(ana.id))


def test_the_other_record_can_survive_instead(web: WebApp, ana: User, pair) -> None:
    keep, other, _contact = pair
    browser = web.browser(ana)
    html = page(browser.get(f"/o/account/{keep['id']}/merge?other={other['id']}&survivor=other"))
    assert one(html, ".merge-survivor")["data-survivor"] == str(other["id"])
    # The other survives: its values are chosen by default.
    assert one(html, "input[name='f_industry'][value='other']").has_attr("checked")

    answer = browser.post(
        f"/o/account/{keep['id']}/merge", {"other": other["id"], "survivor": "other", "f_industry": "this"}
    )

    assert answer.headers["location"].startswith(f"/o/account/{other['id']}?")
    merged = web.services.records.get("account", other["id"], actor=Actor(ana.id))
    assert (merged["name"], merged["industry"]) == ("ACME Inc.", "ict")


def test_merging_needs_edit_and_delete_permission(web: WebApp, ana: User, pair) -> None:
    keep, other, _contact = pair
    finance = web.add_user("fin@example.com", role="finance")
    browser = web.browser(finance)
    assert browser.get(f"/o/account/{keep['id']}/merge?other={other['id']}").status_code == 403
    refused = browser.post(f"/o/account/{keep['id']}/merge", {"other": other["id"], "survivor": "this"})
    assert refused.status_code == 403
    assert web.services.records.get("account", other["id"], actor=Actor(ana.id))["version"] == 1


def test_merging_a_record_with_itself_says_so_and_changes_nothing(web: WebApp, ana: User, pair) -> None:
    keep, _other, _contact = pair
    answer = web.browser(ana).get(f"/o/account/{keep['id']}/merge?other={keep['id']}")
    assert one(page(answer), "#merge-error").get_text(strip=True) == "A record cannot be merged with itself."


def test_the_record_pages_more_menu_leads_to_the_merge_screen(web: WebApp, ana: User, pair) -> None:
    keep, _other, _contact = pair
    html = page(web.browser(ana).get(f"/o/account/{keep['id']}"))
    assert one(html, ".more-menu a[data-action='merge']")["href"] == f"/o/account/{keep['id']}/merge"
    # An object without declared duplicate rules offers no merge.
    deal = _create(web, ana, "opportunity", {"name": "Deal", "account": keep["id"]})
    assert not page(web.browser(ana).get(f"/o/opportunity/{deal['id']}")).select("a[data-action='merge']")
