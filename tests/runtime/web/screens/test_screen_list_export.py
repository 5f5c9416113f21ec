"""The list's export (/o/{object}/export.csv and .xlsx, and the bulk export): spreadsheets people open."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy.engine import Engine

from crm_platform.runtime.exports import neutralise
from tests.support.export_world import BOM, ExportWorld, build_export_world, csv_records, read_csv
from tests.support.html import page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def world(engine: Engine) -> ExportWorld:
    return build_export_world(engine)


def test_the_csv_starts_with_a_bom_and_shows_titles_names_and_labels(world: ExportWorld) -> None:
    answer = world.web.browser(world.ann).get("/o/deal/export.csv?sort=name")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="deal.csv"'
    assert answer.content.startswith(BOM.encode("utf-8"))
    rows = {r["Name"]: r for r in csv_records(answer.content)}
    alpha = rows["Alpha"]
    assert alpha["Account"] == "华东客户"  # the lookup's title, not its id
    assert alpha["Reviewer"] == "Bob 王"  # a user field shows the name
    assert alpha["Owner"] == "Ann Lee"
    assert alpha["Priority"] == "High"
    assert alpha["Tags"] == "Keen, Call again"
    assert alpha["Stage"] == "Open"
    assert alpha["Signed"] == "TRUE"
    assert alpha["Close date"] == "2024-04-20"
    assert alpha["Seen at"] == "2024-04-30T12:05:09+00:00"
    # Money is a plain number, and a negative one is not neutralised.
    assert alpha["Amount"] == "-1680.00"
    assert alpha["ID"] == str(world.deals["Alpha"]["id"])


def test_formula_looking_text_is_neutralised(world: ExportWorld) -> None:
    records = csv_records(world.web.browser(world.ann).get("/o/deal/export.csv?sort=name").content)
    names = [r["Name"] for r in records]
    assert names == ["'-1+1", '\'=HYPERLINK("x")', "Alpha"]
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(f"{start}1") == f"'{start}1"
    assert neutralise("plain") == "plain"


def test_hidden_fields_are_never_exported(world: ExportWorld) -> None:
    header = read_csv(world.web.browser(world.ann).get("/o/deal/export.csv").content)[0]
    assert "Margin" not in header
    manager = csv_records(world.web.browser(world.mia).get("/o/deal/export.csv?sort=name").content)
    assert {r["Name"]: r["Margin"] for r in manager}["Alpha"] == "12.50"
    assert len(manager) == 4


def test_a_chinese_reader_gets_chinese_headers_and_labels(world: ExportWorld) -> None:
    world.web.set_user(world.ann.id, language="zh")
    answer = world.web.browser(world.ann).get("/o/deal/export.csv?f=name:is:Alpha")
    header, row = read_csv(answer.content)
    assert header[:3] == ["ID", "名称", "金额"]
    assert header[-3:] == ["负责人", "创建时间", "更新时间"]
    alpha = dict(zip(header, row, strict=True))
    assert alpha["优先级"] == "高"
    assert alpha["标签"] == "意向强烈, 待二次沟通"
    assert alpha["阶段"] == "初步接洽"
    assert alpha["客户"] == "华东客户"


def test_the_csv_honours_the_lists_filter_and_scope(world: ExportWorld) -> None:
    answer = world.web.browser(world.mia).get("/o/deal/export.csv?f=stage:is:open&sort=-amount")
    records = csv_records(answer.content)
    assert [r["Name"] for r in records] == ["Delta", "'-1+1", "Alpha"]


def test_the_xlsx_opens_with_typed_cells(world: ExportWorld) -> None:
    world.web.set_user(world.ann.id, language="zh")
    answer = world.web.browser(world.ann).get("/o/deal/export.xlsx?sort=name")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header[:3] == ["ID", "名称", "金额"]
    assert "利润率" not in header
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_name) == {"'-1+1", '\'=HYPERLINK("x")', "Alpha"}
    alpha = by_name["Alpha"]
    assert alpha["金额"] == pytest.approx(Decimal("-1680"))
    assert isinstance(alpha["金额"], int | float)
    assert alpha["成交日期"] == dt.datetime(2024, 4, 20)  # Excel keeps dates as datetimes at midnight
    assert alpha["查看时间"] == dt.datetime(2024, 4, 30, 12, 5, 9)
    assert alpha["已签约"] is True
    assert alpha["客户"] == "华东客户"
    assert alpha["审核人"] == "Bob 王"
    assert alpha["优先级"] == "高"
    assert isinstance(alpha["ID"], int)
    # The formula-looking name is text, never a formula cell.
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == '\'=HYPERLINK("x")')
    assert cell.data_type == "s"


def test_the_bulk_export_writes_csv_or_xlsx_of_the_selected_rows(world: ExportWorld) -> None:
    ann = world.web.browser(world.ann)
    ids = [world.deals["Alpha"]["id"], world.deals["Delta"]["id"]]  # Delta is Bob's: not Ann's to see
    exported = ann.post("/o/deal/bulk", {"ids": ids, "action": "export"})
    assert exported.status_code == 200
    assert [r["Name"] for r in csv_records(exported.content)] == ["Alpha"]
    workbook = ann.post("/o/deal/bulk", {"ids": ids, "action": "export_xlsx"})
    assert workbook.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Alpha"]


def test_the_list_offers_csv_and_excel(world: ExportWorld) -> None:
    soup = page(world.web.browser(world.ann).get("/o/deal?sort=name"))
    links = {a.get_text(strip=True): a["href"] for a in soup.select("a[download]")}
    assert links["Export CSV"].startswith("/o/deal/export.csv?")
    assert links["Export Excel"].startswith("/o/deal/export.xlsx?")
    assert "sort=name" in links["Export Excel"]


def test_an_export_beyond_the_cap_is_refused(world: ExportWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crm_platform.runtime.web.exports.MAX_ROWS", 2)
    answer = world.web.browser(world.ann).get("/o/deal/export.csv")
    assert answer.status_code == 413
    assert "at most 2" in answer.text
