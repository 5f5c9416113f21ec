"""Signing in and out, sessions, CSRF, login rate limiting, API tokens and security headers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from tests.support.web_fixtures import PASSWORD, WebApp, make_web_app

ME = "/api/v1/me"
COOKIE = "crm_session"


@pytest.fixture
def web(engine: Engine) -> WebApp:
    return make_web_app(
        engine,
        session_idle=dt.timedelta(minutes=30),
        session_lifetime=dt.timedelta(hours=8),
        login_limit_per_account=2,
        login_limit_per_address=3,
    )


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: str):
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the login form carries a CSRF token"
    return client.post("/login", data={"email": email, "password": password, "csrf_token": match[1], **extra})


def csrf_of(client: TestClient) -> str:
    return client.get(ME).json()["data"]["csrf_token"]


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    assert browser.get(ME).status_code == 401
    response = login(browser, "ann@example.com", next="/api/v1/me")
    assert response.status_code == 303 and response.headers["location"] == "/api/v1/me"
    set_cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie and "Secure" not in set_cookie
    assert browser.get(ME).json()["data"]["email"] == "ann@example.com"

    token = browser.cookies[COOKIE]
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser)}).status_code == 303
    assert browser.get(ME).status_code == 401
    replayed = web.client()
    replayed.cookies.set(COOKIE, token)
    assert replayed.get(ME).status_code == 401


def test_cookie_is_secure_over_https(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = TestClient(web.app, base_url="https://crm.example", follow_redirects=False)
    set_cookie = login(browser, "ann@example.com").headers["set-cookie"]
    assert "Secure" in set_cookie


def test_wrong_password_and_foreign_next_are_refused(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    wrong = login(browser, "ann@example.com", "guess")
    assert wrong.status_code == 401 and "Wrong e-mail or password" in wrong.text
    assert COOKIE not in browser.cookies
    ok = login(browser, "ann@example.com", next="//evil.example/")
    assert ok.headers["location"] == "/"


def test_every_login_gets_a_new_session_id(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    browser.cookies.set(COOKIE, "planted-by-an-attacker", domain="testserver.local")
    login(browser, "ann@example.com")
    first = browser.cookies[COOKIE]
    assert first != "planted-by-an-attacker"
    login(browser, "ann@example.com")
    second = browser.cookies[COOKIE]
    assert second != first
    stale = web.client()
    stale.cookies.set(COOKIE, first)
    assert stale.get(ME).status_code == 401, "the replaced session is gone"


def test_idle_timeout_and_absolute_lifetime(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    login(browser, "ann@example.com")
    for _ in range(20):  # busy every 25 minutes: the idle clock never runs out...
        web.clock.advance(minutes=25)
        if web.clock.now >= dt.datetime(2024, 5, 1, 17, 30, tzinfo=dt.UTC):
            break
        assert browser.get(ME).status_code == 200, web.clock.now
    # ...but eight hours after sign-in the session ends anyway.
    assert browser.get(ME).status_code == 401

    login(browser, "ann@example.com")
    web.clock.advance(minutes=29)
    assert browser.get(ME).status_code == 200
    web.clock.advance(minutes=31)
    assert browser.get(ME).status_code == 401


def test_disabling_a_user_or_changing_their_role_ends_their_sessions(web: WebApp) -> None:
    ann = web.add_user("ann@example.com", password=PASSWORD)
    bob = web.add_user("bob@example.com", password=PASSWORD)
    ann_browser, bob_browser = web.client(), web.client(address="10.0.0.2")
    login(ann_browser, "ann@example.com")
    login(bob_browser, "bob@example.com")
    web.set_user(ann.id, is_active=False)
    assert ann_browser.get(ME).status_code == 401
    web.set_user(ann.id, is_active=True)
    assert ann_browser.get(ME).status_code == 401, "re-enabling does not revive the session"
    web.set_user(bob.id, role="sales_manager")
    assert bob_browser.get(ME).status_code == 401


def test_cookie_requests_need_the_csrf_token_to_change_anything(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    login(browser, "ann@example.com")
    refused = browser.post("/api/v1/records/account", json={"name": "Acme"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    wrong = browser.post("/api/v1/records/account", json={"name": "Acme"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert browser.get("/api/v1/records/account").json()["data"] == []
    created = browser.post(
        "/api/v1/records/account", json={"name": "Acme"}, headers={"X-CSRF-Token": csrf_of(browser)}
    )
    assert created.status_code == 201
    assert browser.post("/logout").status_code == 403
    assert browser.get("/logout").status_code == 405, "no GET changes state"
    assert browser.get(ME).status_code == 200


def test_login_form_needs_its_csrf_token(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    browser = web.client()
    browser.get("/login")
    response = browser.post("/login", data={"email": "ann@example.com", "password": PASSWORD})
    assert response.status_code == 403 and COOKIE not in browser.cookies


def test_rate_limit_per_address_and_email_does_not_lock_the_owner_out(web: WebApp) -> None:
    web.add_user("ann@example.com", password=PASSWORD)
    attacker = web.client(address="203.0.113.9")
    assert login(attacker, "ann@example.com", "guess 1").status_code == 401
    assert login(attacker, "ann@example.com", "guess 2").status_code == 401
    blocked = login(attacker, "ann@example.com")  # even the right password now waits
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert COOKIE not in attacker.cookies

    owner = web.client(address="198.51.100.7")
    assert login(owner, "ann@example.com").status_code == 303

    # The attacker's address as a whole is limited too, whatever e-mail it tries.
    assert login(attacker, "nobody@example.com", "x").status_code == 401
    assert login(attacker, "else@example.com", "x").status_code == 429

    web.clock.advance(minutes=16)  # the window slides on
    assert login(attacker, "ann@example.com").status_code == 303


def test_api_tokens_authenticate_until_revoked(web: WebApp) -> None:
    ann = web.add_user("ann@example.com")
    secret, token = web.services.tokens.create(ann, name="ERP")
    client = web.client(token=secret)
    assert client.get(ME).json()["data"]["email"] == "ann@example.com"
    assert client.post("/api/v1/records/account", json={"name": "No CSRF needed"}).status_code == 201
    web.services.tokens.revoke(token.id)
    response = client.get(ME)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"

    other_secret = web.token(ann)
    web.set_user(ann.id, is_active=False)
    assert web.client(token=other_secret).get(ME).status_code == 401


def test_security_headers(web: WebApp) -> None:
    page = web.client().get("/login")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    api = web.api()
    response = api.get(ME)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    css = api.get("/static/login.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")


def test_crm_token_create_prints_a_working_token_once(web: WebApp, database, capsys) -> None:
    from crm_platform.cli import main

    web.add_user("ann@example.com")
    assert main(["token", "create", "ann@example.com", "--name", "ERP", "--db", database.url]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert web.client(token=secret).get(ME).json()["data"]["email"] == "ann@example.com"
    assert main(["token", "create", "nobody@example.com", "--db", database.url]) == 1
    assert "no active user" in capsys.readouterr().err
