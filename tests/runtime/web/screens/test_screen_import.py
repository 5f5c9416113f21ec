"""The import screens (/import): upload, mapping, dry run, run, history, errors file, refusals."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint_text
from crm_platform.runtime.people.users import User
from crm_platform.runtime.web.screens.imports import routes as import_routes
from tests.support.html import one, page, texts
from tests.support.web_fixtures import Browser, WebApp, make_web_app

BLUEPRINT = """\
blueprint: importworld
version: 1
roles: [sales_rep, admin]
objects:
  account:
    label: {en: Account, zh: 客户}
    plural: {en: Accounts, zh: 客户}
    title: name
    fields:
      name: {type: text, required: true, label: {en: Name, zh: 名称}}
      email: {type: email, label: {en: E-mail, zh: 邮箱}}
      employees: {type: integer, min: 0, label: {en: Employees, zh: 员工数}}
  region:
    label: {en: Region, zh: 区域}
    plural: {en: Regions, zh: 区域}
    title: name
    fields:
      name: {type: text, required: true}
permissions:
  sales_rep:
    account: {read: all, create: all, edit: own}
    region: {read: all}
"""

CSV = (
    b"Name,E-mail,Employees,Notes\n"
    b"Acme,info@acme.example,10,first\n"
    b",nobody@example.com,5,\n"
    b"Beta,beta@example.com,-3,\n"
    b"Gamma,gamma@example.com,7,\n"
)


@dataclass
class World:
    web: WebApp
    ann: User
    bob: User
    admin: User

    def browser(self, user: User) -> Browser:
        return self.web.browser(user)


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(import_routes, "default_root", lambda: tmp_path / "uploads")
    web = make_web_app(engine, blueprint=load_blueprint_text(BLUEPRINT, "importworld.yaml"))
    ann = web.services.users.add("ann@example.com", role="sales_rep", name="Ann")
    bob = web.services.users.add("bob@example.com", role="sales_rep", name="Bob")
    admin = web.services.users.add("root@example.com", role="admin", name="Root")
    return World(web, ann, bob, admin)


def _upload(browser: Browser, data: bytes, name: str = "accounts.csv", object: str = "account") -> Any:
    files = {"file": (name, io.BytesIO(data), "text/csv")}
    return browser.post("/import", {"object": object}, files=files)


def _accounts(world: World) -> list[str]:
    return sorted(texts(page(world.browser(world.admin).get("/o/account")), ".list-row th.title a"))


def _mapping_form(soup: Any) -> dict[str, str]:
    form: dict[str, str] = {}
    for select in soup.select(".import-mapping select"):
        chosen = select.select_one("option[selected]")
        form[select["name"]] = chosen["value"] if chosen is not None else ""
    return form


def test_upload_map_dry_run_run_history_and_the_errors_file(world: World) -> None:
    ann = world.browser(world.ann)
    start = page(ann.get("/import"))
    assert texts(start, "#import-object option") == ["Account"]  # not Region: Ann may not create one
    answer = _upload(ann, CSV)
    assert answer.status_code == 303
    mapping_url = answer.headers["location"]
    soup = page(ann.get(mapping_url))
    columns = {c["data-column"]: c for c in soup.select(".mapping-column")}
    assert list(columns) == ["Name", "E-mail", "Employees", "Notes"]
    assert texts(columns["Name"], ".samples") == ["e.g. Acme · Beta · Gamma"]
    form = _mapping_form(soup)
    assert form == {"col-0": "name", "col-1": "email", "col-2": "employees", "col-3": "", "key": ""}
    assert texts(columns["Notes"], "option[selected]") == []
    assert "Not imported" in texts(columns["Notes"], ".match-note")[0]
    assert texts(columns["E-mail"], ".match-note") == ["Matched by the field's name."]

    dry = ann.post(f"{mapping_url}/dry-run", form)
    assert dry.status_code == 200
    report = page(dry)
    assert texts(report, "#import-summary") == ["2 created, 0 updated, 0 unchanged, 2 failed"]
    lines = [
        [td.get_text(strip=True) for td in tr.select("td")] for tr in report.select(".import-errors tbody tr")
    ]
    assert [line[:2] for line in lines] == [["3", "Name"], ["4", "Employees"]]
    assert all(line[2] for line in lines)
    assert _accounts(world) == []  # a dry run changes nothing

    carried = {i["name"]: i["value"] for i in report.select(".import-run input[type=hidden]")}
    assert carried.pop("csrf_token")
    done = ann.post(f"{mapping_url}/run", carried)
    assert done.status_code == 303
    run_url = done.headers["location"]
    result = page(ann.get(run_url))
    assert texts(result, "#import-summary") == ["2 created, 0 updated, 0 unchanged, 2 failed"]
    assert _accounts(world) == ["Acme", "Gamma"]
    assert one(result, ".import-screen a[href='/o/account']")
    errors_url = one(result, "#errors-file")["href"]

    errors = ann.get(errors_url)
    assert errors.status_code == 200
    text = errors.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Name,E-mail,Employees,Notes,row,column,message"
    assert [line.split(",")[4] for line in text.splitlines()[1:]] == ["3", "4"]
    assert world.browser(world.bob).get(errors_url).status_code == 404
    assert world.browser(world.admin).get(errors_url).status_code == 404
    assert world.browser(world.bob).get(run_url).status_code == 404
    # The upload is gone after the run.
    assert ann.get(mapping_url).status_code == 404

    history = page(ann.get("/import/history"))
    rows = history.select(".history-line")
    assert len(rows) == 1
    cells = [td.get_text(" ", strip=True) for td in rows[0].select("td")]
    assert cells[1:] == [
        "Ann",
        "Account",
        "accounts.csv",
        "2 created, 0 updated, 0 unchanged, 2 failed",
        "Done",
    ]
    assert page(world.browser(world.bob).get("/import/history")).select(".history-line") == []
    assert len(page(world.browser(world.admin).get("/import/history")).select(".history-line")) == 1


def test_an_upload_belongs_to_the_session_that_made_it(world: World) -> None:
    mapping_url = _upload(world.browser(world.ann), CSV).headers["location"]
    assert world.browser(world.bob).get(mapping_url).status_code == 404
    assert world.browser(world.ann).get(mapping_url).status_code == 404  # another session of Ann's
    assert world.browser(world.ann).get("/import/not-an-upload-id-at-all-xx").status_code == 404


def test_a_rep_cannot_import_into_an_object_they_may_not_create(world: World) -> None:
    answer = _upload(world.browser(world.ann), b"name\nNorth\n", object="region")
    assert answer.status_code == 403
    assert texts(page(answer), ".error-page h1") == ["Not allowed"]
    assert world.browser(world.admin).get("/import").status_code == 200


def test_a_too_large_or_unreadable_file_gets_a_clear_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = world.browser(world.ann)
    monkeypatch.setattr(import_routes, "MAX_BYTES", 100)
    big = _upload(ann, b"name\n" + b"A" * 200 + b"\n")
    assert big.status_code == 413
    assert texts(page(big), "#import-error") == [
        "The file is larger than 10 MiB: split it, or use crm import."
    ]
    monkeypatch.undo()
    broken = _upload(ann, b"PK\x03\x04 not really a workbook", name="accounts.xlsx")
    assert broken.status_code == 422
    assert texts(page(broken), "#import-error")[0].startswith("accounts.xlsx cannot be read: ")
    picture = _upload(ann, b"\x89PNG", name="logo.png")
    assert texts(page(picture), "#import-error") == ["logo.png is not a CSV or .xlsx file."]
    empty = _upload(ann, b"name\n")
    assert texts(page(empty), "#import-error") == ["accounts.csv has no rows below its header."]
    assert _accounts(world) == []


def test_a_mapping_that_cannot_be_imported_is_sent_back_with_the_reason(world: World) -> None:
    ann = world.browser(world.ann)
    mapping_url = _upload(ann, CSV).headers["location"]
    twice = ann.post(f"{mapping_url}/dry-run", {"col-0": "name", "col-1": "name", "col-2": "", "col-3": ""})
    assert twice.status_code == 422
    assert texts(page(twice), "#import-error") == [
        "Columns Name and E-mail both fill Name: leave one of them out."
    ]
    # What was picked is kept.
    assert _mapping_form(page(twice))["col-1"] == "name"
    none = ann.post(f"{mapping_url}/dry-run", {"col-0": "", "col-1": "", "col-2": "", "col-3": ""})
    assert texts(page(none), "#import-error") == [
        "No column is imported: pick a field for at least one column."
    ]


def test_an_upsert_by_key_updates_the_matching_record(world: World) -> None:
    ann = world.browser(world.ann)
    first = _upload(ann, b"Name,E-mail\nAcme,old@acme.example\n").headers["location"]
    ann.post(f"{first}/run", {"col-0": "name", "col-1": "email"})
    again = _upload(ann, b"Name,E-mail\nAcme,new@acme.example\nBeta,b@example.com\n").headers["location"]
    dry = page(ann.post(f"{again}/dry-run", {"col-0": "name", "col-1": "email", "key": "name"}))
    assert texts(dry, "#import-summary") == ["1 created, 1 updated, 0 unchanged, 0 failed"]
    done = ann.post(f"{again}/run", {"col-0": "name", "col-1": "email", "key": "name"})
    assert texts(page(ann.get(done.headers["location"])), "#import-summary") == [
        "1 created, 1 updated, 0 unchanged, 0 failed"
    ]
    assert _accounts(world) == ["Acme", "Beta"]


def test_a_multipart_upload_without_the_csrf_token_is_refused(world: World) -> None:
    ann = world.browser(world.ann)
    files = {"file": ("accounts.csv", io.BytesIO(CSV), "text/csv")}
    answer = ann.client.post("/import", data={"object": "account"}, files=files)
    assert answer.status_code == 403
    assert "CSRF token" in answer.text
    assert _accounts(world) == []


def test_the_avatar_menu_offers_import_in_both_languages(world: World) -> None:
    ann = world.browser(world.ann)
    assert texts(page(ann.get("/import")), ".avatar-menu a[data-nav=import]") == ["Import"]
    world.web.services.users.set_language(world.ann.id, "zh")
    soup = page(ann.get("/import"))
    assert texts(soup, ".avatar-menu a[data-nav=import]") == ["导入"]
    assert texts(soup, ".page-header h1") == ["导入"]


def test_a_user_who_may_create_nothing_has_no_import(world: World) -> None:
    # sales_manager has no grant in this blueprint.
    viewer = world.browser(world.web.services.users.add("mia@example.com", role="sales_manager", name="Mia"))
    answer = viewer.get("/import")
    assert answer.status_code == 403
    assert texts(page(answer), ".error-page p")[0] == "You may not create records, so you cannot import."
    assert page(answer).select(".avatar-menu a[data-nav=import]") == []
