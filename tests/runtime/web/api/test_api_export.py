"""``GET /api/v1/records/{object}`` with ``Accept: text/csv`` (or the .xlsx type): the whole list."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from tests.support.export_world import BOM, ExportWorld, build_export_world, csv_records

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def world(engine: Engine) -> ExportWorld:
    return build_export_world(engine)


def _api(world: ExportWorld, user: str = "mia") -> TestClient:
    return world.web.client(token=world.web.token(getattr(world, user)))


def test_accept_csv_answers_the_filtered_sorted_list_on_every_page(world: ExportWorld) -> None:
    api = _api(world)
    # limit and cursor page the JSON list; an export is the whole list.
    params = {"amount__gt": "0", "sort": "-amount", "limit": "1"}
    answer = api.get("/api/v1/records/deal", params=params, headers={"Accept": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="deal.csv"'
    assert answer.content.startswith(BOM.encode("utf-8"))
    rows = csv_records(answer.content)
    assert [r["Name"] for r in rows] == ['\'=HYPERLINK("x")', "Delta", "'-1+1"]
    assert [r["Amount"] for r in rows] == ["900.00", "70.00", "50.00"]


def test_the_api_export_shows_names_titles_and_the_readers_labels(world: ExportWorld) -> None:
    world.web.set_user(world.mia.id, language="zh")
    answer = _api(world).get("/api/v1/records/deal?name=Alpha", headers={"Accept": "text/csv"})
    (alpha,) = csv_records(answer.content)
    assert alpha["客户"] == "华东客户"
    assert alpha["负责人"] == "Ann Lee"
    assert alpha["优先级"] == "高"
    assert alpha["金额"] == "-1680.00"
    assert alpha["利润率"] == "12.50"  # the manager may see it


def test_a_reps_export_keeps_their_scope_and_leaves_hidden_fields_out(world: ExportWorld) -> None:
    answer = _api(world, "ann").get("/api/v1/records/deal?sort=name", headers={"Accept": "text/csv"})
    rows = csv_records(answer.content)
    assert [r["Name"] for r in rows] == ["'-1+1", '\'=HYPERLINK("x")', "Alpha"]
    assert "Margin" not in rows[0]


def test_accept_xlsx_answers_a_workbook(world: ExportWorld) -> None:
    answer = _api(world).get("/api/v1/records/deal?sort=name", headers={"Accept": XLSX})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[:3] == ("ID", "Name", "Amount")
    assert [row[1] for row in rows] == ["'-1+1", '\'=HYPERLINK("x")', "Alpha", "Delta"]
    assert isinstance(rows[2][2], int | float) and rows[2][2] == -1680


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "text/csv;q=0.5, application/json", "text/html"]
)
def test_json_stays_the_default(world: ExportWorld, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    answer = _api(world).get("/api/v1/records/deal", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert len(answer.json()["data"]) == 4


def test_a_bad_filter_is_a_json_error_before_any_csv(world: ExportWorld) -> None:
    answer = _api(world).get("/api/v1/records/deal?amont=1", headers={"Accept": "text/csv"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_query"


def test_an_export_beyond_the_cap_answers_413(world: ExportWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crm_platform.runtime.web.exports.MAX_ROWS", 3)
    api = _api(world)
    answer = api.get("/api/v1/records/deal", headers={"Accept": "text/csv"})
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "too_large"
    assert "at most 3" in error["message"]
    # Narrowed to the cap, it exports.
    narrowed = api.get("/api/v1/records/deal?amount__gt=0", headers={"Accept": "text/csv"})
    assert narrowed.status_code == 200
    assert len(csv_records(narrowed.content)) == 3


def test_the_openapi_document_names_the_spreadsheets_and_the_idempotency_key(world: ExportWorld) -> None:
    document = _api(world).get("/api/v1/openapi.json").json()
    path = document["paths"]["/api/v1/records/deal"]
    assert set(path["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv", XLSX}
    assert "413" in path["get"]["responses"]
    assert [p["name"] for p in path["post"]["parameters"]] == ["Idempotency-Key"]
    assert "Idempotent-Replayed" in path["post"]["responses"]["201"]["headers"]
