"""The global frame every screen shares: sign-in, sidebar, bell, language, errors, assets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Grant, Scope
from crm_platform.resources import ui_dir
from crm_platform.runtime.web.i18n import format_date, format_money, relative_time
from tests.support.html import one, page, texts
from tests.support.web_fixtures import WebApp, make_web_app


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(engine)


def test_a_screen_without_a_session_redirects_to_sign_in_and_back(web: WebApp) -> None:
    client = web.client()
    answer = client.get("/tasks?tab=today")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/tasks%3Ftab%3Dtoday"


def test_an_htmx_request_without_a_session_is_told_where_to_sign_in(web: WebApp) -> None:
    answer = web.client().get("/o/account", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/login")


def test_home_sends_a_signed_in_user_to_their_tasks(web: WebApp) -> None:
    browser = web.browser(web.add_user("rep@example.com"))
    answer = browser.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tasks"


def test_an_unknown_page_is_a_framed_404_in_the_users_language(web: WebApp) -> None:
    browser = web.browser(web.add_user("rep@example.com", role="sales_rep"))
    answer = browser.get("/o/nothing/5")
    assert answer.status_code == 404
    soup = page(answer)
    assert texts(soup, ".error-page h1") == ["Not found"]
    # The frame is there: the sidebar lists the blueprint's objects.
    assert texts(soup, ".sidebar .nav-list a[data-nav]")[:3] == ["Account", "Contact", "Opportunity"]


def test_the_sidebar_and_new_menu_list_only_what_the_role_may_read_and_create(engine: Engine) -> None:
    from tests.support.record_blueprint import SALES

    grants = (
        Grant(role="sales_rep", object="opportunity", read=Scope.OWN, create=Scope.OWN),
        Grant(role="sales_rep", object="account", read=Scope.ALL),
    )
    blueprint = dataclasses.replace(SALES, permissions=grants, roles=("sales_rep",))
    web = make_web_app(engine, blueprint)
    soup = page(web.browser(web.add_user("rep@example.com", role="sales_rep")).get("/o/nothing/1"))
    assert texts(soup, ".sidebar .nav-list a[data-nav]")[:2] == ["Account", "Opportunity"]
    assert "Contact" not in texts(soup, ".sidebar .nav-list a")
    assert texts(soup, ".new-menu .menu-items a") == ["Opportunity"]


def test_the_bell_shows_the_unread_count_and_caps_it_at_99(web: WebApp) -> None:
    user = web.add_user("rep@example.com")
    browser = web.browser(user)
    soup = page(browser.get("/o/nothing/1"))
    assert soup.select("#bell .badge") == []
    assert one(soup, "#bell")["aria-label"] == "Notifications"

    web.services.inbox.notify([user.id], "Deal moved")
    web.services.inbox.notify([user.id], "Deal won")
    soup = page(browser.get("/o/nothing/1"))
    assert texts(soup, "#bell .badge") == ["2"]
    assert one(soup, "#bell")["aria-label"] == "2 new notifications"

    for n in range(98):
        web.services.inbox.notify([user.id], f"Reminder {n}")
    soup = page(browser.get("/o/nothing/1"))
    assert texts(soup, "#bell .badge") == ["99+"]


def test_the_task_count_counts_overdue_and_today_only(web: WebApp) -> None:
    user = web.add_user("rep@example.com")
    now = web.clock()
    inbox = web.services.inbox
    inbox.create_task("Call back", assignee_id=user.id, due_at=now - dt.timedelta(days=2))
    inbox.create_task("Send quote", assignee_id=user.id, due_at=now + dt.timedelta(hours=1))
    inbox.create_task("Next week", assignee_id=user.id, due_at=now + dt.timedelta(days=7))
    soup = page(web.browser(user).get("/o/nothing/1"))
    assert texts(soup, '.nav-inboxes a[data-nav="tasks"] .count') == ["2"]


def test_switching_to_chinese_is_saved_and_returns_to_the_same_page(web: WebApp) -> None:
    user = web.add_user("rep@example.com")
    browser = web.browser(user)
    answer = browser.post("/me/language", {"language": "zh", "next": "/o/nothing/1?x=1"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/o/nothing/1?x=1"
    assert web.services.users.get(user.id).language == "zh"
    soup = page(browser.get("/o/nothing/1"))
    assert one(soup, "html")["lang"] == "zh-CN"
    assert texts(soup, ".error-page h1") == ["未找到"]
    assert "我的任务" in texts(soup, ".nav-inboxes a")[0]
    # The switch now offers English.
    assert texts(soup, '.avatar-menu button[name="language"]') == ["English"]


def test_the_language_switch_never_redirects_to_another_site(web: WebApp) -> None:
    browser = web.browser(web.add_user("rep@example.com"))
    answer = browser.post("/me/language", {"language": "zh", "next": "//evil.example/x"})
    assert answer.headers["location"] == "/"


def test_an_unknown_language_changes_nothing(web: WebApp) -> None:
    user = web.add_user("rep@example.com")
    web.browser(user).post("/me/language", {"language": "fr", "next": "/"})
    assert web.services.users.get(user.id).language == "en"


def test_the_language_switch_needs_the_csrf_token(web: WebApp) -> None:
    user = web.add_user("rep@example.com")
    browser = web.browser(user)
    answer = browser.client.post("/me/language", data={"language": "zh", "next": "/"})
    assert answer.status_code == 403
    assert web.services.users.get(user.id).language == "en"


def test_pages_are_not_cached_and_carry_the_security_headers(web: WebApp) -> None:
    answer = web.browser(web.add_user("rep@example.com")).get("/o/nothing/1")
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_asset_a_template_names_is_served_by_the_app() -> None:
    """No CDN: each src/href in the templates is a local /static path that exists."""
    names = set()
    for template in (ui_dir() / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "://" not in re.sub(r"<!--.*?-->|\{#.*?#\}", "", text, flags=re.S).replace(
            "http://www.w3.org/2000/svg", ""
        ), f"{template.name} names another site"
        names.update(re.findall(r'(?:src|href)="/static/([^"{]+)"', text))
    assert names, "the templates name no assets at all"
    missing = [name for name in sorted(names) if not (ui_dir() / "static" / name).is_file()]
    assert missing == []


def test_templates_use_no_inline_script_or_style() -> None:
    """The CSP allows only this origin's scripts and stylesheets, so inline ones would be dead."""
    for template in (ui_dir() / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline <script> in {template.name}"
        assert not re.search(r"\sstyle=\"", text), f"style attribute in {template.name}"
        assert not re.search(r"\son[a-z]+=\"", text), f"inline event handler in {template.name}"
        assert "<style" not in text, f"<style> block in {template.name}"


def test_money_dates_and_relative_times_read_naturally_in_both_languages() -> None:
    assert format_money(1234567, "en") == "1,234,567.00"
    assert format_money(1234567, "zh", short=True) == "123.5万"
    assert format_date(dt.date(2025, 3, 12), "en") == "2025-03-12"
    assert format_date(dt.date(2025, 3, 12), "zh") == "2025年3月12日"
    now = dt.datetime(2025, 3, 12, 9, 0, tzinfo=dt.UTC)
    assert relative_time(now - dt.timedelta(days=3), now, "zh") == "3天前"
    assert relative_time(now - dt.timedelta(seconds=20), now, "zh") == "刚刚"
    assert relative_time(now - dt.timedelta(hours=1), now, "en") == "1 hour ago"
    assert relative_time(now + dt.timedelta(days=2), now, "en") == "in 2 days"


def test_the_sign_in_page_follows_the_browsers_language(web: WebApp) -> None:
    chinese = page(web.client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}))
    assert one(chinese, "html")["lang"] == "zh-CN"
    assert texts(chinese, "h1") == ["登录"]
    english = page(web.client().get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}))
    assert texts(english, "h1") == ["Sign in"]
    client = web.client()
    client.get("/login", headers={"Accept-Language": "zh"})
    wrong = client.post(
        "/login",
        data={
            "email": "x@example.com",
            "password": "nope",
            "csrf_token": client.cookies.get("crm_login_csrf"),
        },
        headers={"Accept-Language": "zh"},
    )
    assert wrong.status_code == 401
    assert texts(page(wrong), ".error") == ["邮箱或密码错误。"]
