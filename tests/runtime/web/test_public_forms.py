"""Public forms served without sign-in: /f/contact_us (HTML) and POST /api/v1/forms/contact_us (JSON).

The app is the shipped b2b blueprint composed with its rules, so a post is assigned to the
region's rep and the rep is notified, as scenario 2 asks. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from crm_platform.compose import Platform, compose, web_services
from crm_platform.metadata import load_blueprint
from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.actors import SYSTEM, public_form_actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, ValidationError
from crm_platform.runtime.people.users import User
from crm_platform.runtime.storage.tables import build_tables
from crm_platform.runtime.web import WebSettings, create_app
from tests.conftest import Database
from tests.support.paths import ROOT
from tests.support.record_blueprint import Clock

B2B = load_blueprint(ROOT / "blueprints" / "b2b_sales.yaml")
REGIONS = ("north", "northeast", "east", "central", "south", "southwest", "northwest")
GOOD = {
    "company": "Hangzhou Lakeside Tech",
    "contact_name": "Wang Fang",
    "email": "wang.fang@lakeside.cn",
    "phone": "13800138000",
    "region": "east",
    "notes": "Interested in 50 seats",
}


@dataclass
class World:
    platform: Platform
    clock: Clock
    users: dict[str, User]

    def client(self, address: str = "203.0.113.7", **headers: str) -> TestClient:
        app = self.app
        return TestClient(app, client=(address, 40000), headers=headers, follow_redirects=False)

    @property
    def app(self) -> Any:
        return self._app

    def leads(self) -> list[dict[str, Any]]:
        return list(self.platform.records.list("lead", actor=SYSTEM, limit=100).records)

    def html_post(self, client: TestClient, values: dict[str, str], lang: str = "en") -> Any:
        """Load the form, wait as a person would, and post ``values`` with the page's stamp."""
        page = client.get(f"/f/contact_us?lang={lang}")
        stamp = re.search(r'name="_stamp" value="([^"]+)"', page.text)
        assert stamp is not None
        self.clock.advance(seconds=5)
        return client.post(f"/f/contact_us?lang={lang}", data={**values, "_stamp": stamp.group(1)})


def make_world(database: Database, blueprint: Blueprint = B2B) -> World:
    engine = database.engine
    tables = build_tables(blueprint)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(tables.roles), [{"name": r, "label": r} for r in blueprint.roles])
    clock = Clock(dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC))
    platform = compose(blueprint, engine, clock=clock)
    settings = WebSettings(clock=clock)
    services = web_services(platform, settings)
    users = {region: services.users.add(f"{region}.rep@example.com", role="sales_rep") for region in REGIONS}
    users["manager"] = services.users.add("sales.manager@example.com", role="sales_manager")
    world = World(platform, clock, users)
    world._app = create_app(services, settings)  # type: ignore[attr-defined]
    return world


@pytest.fixture
def world(database: Database) -> World:
    return make_world(database)


def test_the_html_form_creates_a_lead_assigned_by_region_without_sign_in(world: World) -> None:
    client = world.client()
    page = client.get("/f/contact_us")
    assert page.status_code == 200
    assert "Contact us" in page.text and 'name="company"' in page.text
    assert "sidebar" not in page.text and "<script" not in page.text
    answer = world.html_post(client, GOOD)
    assert answer.status_code == 200, answer.text
    assert "Thank you! Your request has reached us" in answer.text
    [lead] = world.leads()
    east = world.users["east"]
    assert lead["company"] == GOOD["company"] and lead["source"] == "web" and lead["status"] == "new"
    assert lead["owner_id"] == east.id and lead["created_by"] is None
    [note] = world.platform.inbox.notifications(east.id)
    assert note.message == f"New lead: {GOOD['company']}" and note.record_id == lead["id"]
    # The timeline says where it came from.
    entries = world.platform.sales.timeline("lead", lead["id"]).entries
    assert any(e.summary == "Submitted through the public form 'contact_us'" for e in entries)


def test_the_page_speaks_chinese_by_browser_or_query(world: World) -> None:
    by_header = world.client(**{"Accept-Language": "zh-CN,zh;q=0.9"}).get("/f/contact_us")
    assert '<html lang="zh-CN">' in by_header.text and "联系我们" in by_header.text
    assert "提交" in by_header.text and "公司名称" in by_header.text
    by_query = world.client().get("/f/contact_us?lang=zh")
    assert "联系我们" in by_query.text and 'action="/f/contact_us?lang=zh"' in by_query.text
    answer = world.html_post(world.client(), GOOD, lang="zh")
    assert "感谢您的垂询" in answer.text


def test_the_json_endpoint_creates_an_assigned_lead_and_tells_nothing(world: World) -> None:
    answer = world.client().post("/api/v1/forms/contact_us", json={**GOOD, "region": "south"})
    assert answer.status_code == 201
    assert answer.json() == {"data": {"ok": True}}
    [lead] = world.leads()
    assert lead["owner_id"] == world.users["south"].id and lead["source"] == "web"
    assert world.platform.inbox.notifications(world.users["south"].id)


def test_a_missing_required_field_is_a_422_naming_it(world: World) -> None:
    answer = world.client().post("/api/v1/forms/contact_us", json={"email": "a@b.cn"})
    assert answer.status_code == 422
    body = answer.json()["error"]
    assert body["code"] == "validation" and body["fields"] == {"company": "is required"}
    unknown = world.client().post("/api/v1/forms/contact_us", json={"company": "X", "owner_id": 1})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"] == {"owner_id": "is not a field of this form"}
    page = world.html_post(world.client(), {"email": "not an e-mail"})
    assert page.status_code == 422
    assert 'id="e-company"' in page.text and "Please fill this in." in page.text
    assert "&#39;not an e-mail&#39; is not an e-mail address" in page.text
    assert 'value="not an e-mail"' in page.text  # what was typed is kept
    assert world.leads() == []


def test_the_eleventh_post_in_a_minute_is_refused_with_retry_after(world: World) -> None:
    client = world.client()
    for _ in range(10):
        assert client.post("/api/v1/forms/contact_us", json={"company": "Acme"}).status_code == 201
    refused = client.post("/api/v1/forms/contact_us", json={"company": "Acme"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    chinese = client.post(
        "/api/v1/forms/contact_us", json={"company": "Acme"}, headers={"Accept-Language": "zh"}
    )
    assert chinese.json()["error"]["message"] == "请求过于频繁，请稍等一分钟后再试。"
    page = client.post("/f/contact_us", data={"company": "Acme"})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Too many requests" in page.text
    # Another address is not affected, and a minute later this one may post again.
    assert (
        world.client("198.51.100.1").post("/api/v1/forms/contact_us", json={"company": "B"}).status_code
        == 201
    )
    world.clock.advance(seconds=61)
    assert client.post("/api/v1/forms/contact_us", json={"company": "Acme"}).status_code == 201
    assert len(world.leads()) == 12


def test_a_filled_honeypot_looks_like_success_and_stores_nothing(world: World) -> None:
    answer = world.html_post(world.client(), {**GOOD, "_homepage": "http://spam.example"})
    assert answer.status_code == 200
    assert "Thank you! Your request has reached us" in answer.text
    api = world.client().post("/api/v1/forms/contact_us", json={**GOOD, "_homepage": "x"})
    assert api.status_code == 201 and api.json() == {"data": {"ok": True}}
    assert world.leads() == []
    page = world.client().get("/f/contact_us")
    assert 'class="hp"' in page.text and "Leave this field empty" in page.text


def test_a_too_large_body_is_413(world: World) -> None:
    big = {"company": "Acme", "notes": "x" * 17_000}
    assert world.client().post("/api/v1/forms/contact_us", json=big).status_code == 413
    assert world.client().post("/f/contact_us", data=big).status_code == 413
    assert world.leads() == []


def test_the_stamp_refuses_posts_too_soon_or_too_late(world: World) -> None:
    client = world.client()
    stamp = re.search(r'name="_stamp" value="([^"]+)"', client.get("/f/contact_us").text)
    assert stamp is not None
    soon = client.post("/f/contact_us", data={**GOOD, "_stamp": stamp.group(1)})
    assert soon.status_code == 422 and "That was quick" in soon.text
    world.clock.advance(days=1, seconds=10)
    late = client.post("/f/contact_us", data={**GOOD, "_stamp": stamp.group(1)})
    assert late.status_code == 422 and "The form expired" in late.text
    forged = client.post("/f/contact_us", data={**GOOD, "_stamp": "contact_us.1.abc"})
    assert forged.status_code == 422 and "The form expired" in forged.text
    assert world.leads() == []


def test_a_public_caller_reads_nothing(world: World) -> None:
    client = world.client()
    assert client.get("/api/v1/records/lead").status_code == 401
    assert client.get("/").status_code == 303  # every screen still asks to sign in
    assert client.get("/f/contact_us").status_code == 200


def test_the_form_actor_may_create_its_form_only(world: World) -> None:
    records = world.platform.records
    actor = public_form_actor("contact_us")
    lead = records.create("lead", {"company": "Acme", "source": "web"}, actor=actor)
    with pytest.raises(NotFoundError):
        records.get("lead", lead["id"], actor=actor)
    assert records.list("lead", actor=actor).records == []
    with pytest.raises(ForbiddenError):
        records.create("account", {"name": "Acme"}, actor=actor)
    with pytest.raises(ValidationError) as refused:
        records.create("lead", {"company": "Acme", "status": "qualified"}, actor=actor)
    assert set(refused.value.fields) == {"status"}
    with pytest.raises(ForbiddenError):
        records.create("lead", {"company": "Acme"}, actor=public_form_actor("unknown"))


def test_duplicates_are_noted_for_the_owner_not_the_visitor(world: World) -> None:
    world.platform.records.create("lead", {"company": "Acme", "email": "ann@acme.cn"}, actor=SYSTEM)
    answer = world.client().post(
        "/api/v1/forms/contact_us", json={"company": "Other", "email": "ANN@acme.cn", "region": "east"}
    )
    assert answer.json() == {"data": {"ok": True}}
    new = max(world.leads(), key=lambda r: r["id"])
    notes = [e for e in world.platform.sales.timeline("lead", new["id"]).entries if e.kind == "note"]
    assert len(notes) == 1 and "Possible duplicate of lead" in (notes[0].details["body"] or "")


def test_unknown_form_is_a_404(world: World) -> None:
    page = world.client().get("/f/nope")
    assert page.status_code == 404 and "Form not found" in page.text
    assert world.client().post("/api/v1/forms/nope", json={}).status_code == 404


def test_frame_ancestors_come_from_the_form(database: Database) -> None:
    default = make_world(database).client().get("/f/contact_us")
    assert "frame-ancestors 'none'" in default.headers["Content-Security-Policy"]
    assert default.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in default.headers["Content-Security-Policy"]


def test_an_embeddable_form_drops_x_frame_options(tmp_path: Any, database: Database) -> None:
    form = dataclasses.replace(
        B2B.public_form("contact_us"),
        frame_ancestors=("https://www.example.com",),
        redirect="https://www.example.com/thanks",
    )
    blueprint = dataclasses.replace(B2B, public_forms=(form,))
    world = make_world(database, blueprint)
    page = world.client().get("/f/contact_us")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.example.com" in policy
    assert "form-action 'self' https://www.example.com" in policy
    assert "X-Frame-Options" not in page.headers
    answer = world.html_post(world.client(), GOOD)
    assert answer.status_code == 303 and answer.headers["location"] == "https://www.example.com/thanks"
    # Other pages keep both headers.
    assert world.client().get("/login").headers["X-Frame-Options"] == "DENY"


def test_a_signed_in_browser_posts_without_the_session_csrf_token(world: World) -> None:
    services = world.app.state.services
    secret, _session = services.sessions.create(world.users["manager"])
    client = world.client()
    client.cookies.set(world.app.state.settings.cookie_name, secret)
    assert client.post("/api/v1/forms/contact_us", json={"company": "Acme"}).status_code == 201
    # Everywhere else the token is still required.
    refused = client.post("/api/v1/records/lead", json={"company": "Acme"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
