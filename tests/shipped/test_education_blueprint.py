"""The shipped education blueprint: a third industry carried by declarations alone.

``crm check`` accepts it, its scenarios pass and exercise every rule and approval step,
the admission conversion, the "Issue fee invoice" action with its lines, the fee
roll-ups and the duplicate keys work on SQLite and PostgreSQL, and ``crm demo
--blueprint`` builds a school's data.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.cli import main
from crm_platform.compose import Platform, compose
from crm_platform.metadata import load_blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import StateError, ValidationError
from crm_platform.runtime.mapping.convert import convert
from crm_platform.runtime.mapping.generate import run_action
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import UserDirectory
from tests.support.paths import ROOT

EDUCATION = ROOT / "blueprints" / "education.yaml"
SCENARIOS = EDUCATION.with_name("education.scenarios.yaml")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
USERS = (
    ("admissions.manager@example.com", "admissions_manager", None),
    ("zhang.officer@example.com", "admissions_officer", "admissions.manager@example.com"),
    ("finance@example.com", "finance", None),
    ("registrar@example.com", "registrar", None),
)


def test_crm_check_accepts_the_blueprint_and_its_scenarios(capsys) -> None:
    assert main(["check", str(EDUCATION), str(SCENARIOS)]) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_the_scenarios_pass_and_fire_every_rule_and_approval_step(capsys, scenario_db) -> None:
    code = main(["blueprint", "test", str(EDUCATION), *(["--db", scenario_db] if scenario_db else [])])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    passed = int(re.search(r"^(\d+) passed, 0 failed$", out, re.M).group(1))  # type: ignore[union-attr]
    assert passed >= 15
    rules = len(load_blueprint(str(EDUCATION)).rules)
    assert f"rules fired: {rules} of {rules}\n" in out
    assert "approval decisions: 4 of 4\n" in out  # manager and finance, approved and rejected


class School:
    """The education blueprint migrated on one database, with its admissions office."""

    def __init__(self, engine: sa.Engine) -> None:
        blueprint = load_blueprint(str(EDUCATION))
        migrate(engine, blueprint)
        self.platform: Platform = compose(blueprint, engine, clock=lambda: NOW)
        self.records = self.platform.records
        directory = UserDirectory(engine, self.platform.tables)
        self.actors = {
            email: Actor(directory.add(email, role=role, manager_email=manager).id, role=role)
            for email, role, manager in USERS
        }
        self.officer = self.actors["zhang.officer@example.com"]
        self.finance = self.actors["finance@example.com"]
        self.registrar = self.actors["registrar@example.com"]

    def update(self, obj: str, record_id: int, values: dict, actor: Actor) -> dict:
        current = self.records.get(obj, record_id, actor=actor)
        return self.records.update(obj, record_id, values, version=current["version"], actor=actor)

    def admitted(self, scholarship: int) -> dict:
        """An IELTS applicant offered a place with ``scholarship`` %, the review approved, admitted."""
        course = self.records.create(
            "course",
            {"code": "LANG-IELTS", "name": "IELTS preparation", "programme": "language", "fee": 16800},
            actor=self.registrar,
        )
        offering = self.records.create(
            "course_offering",
            {"name": "IELTS spring", "course": course["id"], "start_on": dt.date(2026, 4, 6)},
            actor=self.registrar,
        )
        values = {"name": "李雷 Li Lei", "programme": "language", "course": course["id"]}
        values |= {"offering": offering["id"], "stage": "interview", "interview_on": dt.date(2026, 3, 2)}
        values |= {"national_id": "31010419990101123X", "phone": "+86 139 1234 5678"}
        applicant = self.records.create("applicant", values, actor=self.officer)
        offer = {"stage": "offer", "quoted_fee": Decimal(16800), "scholarship": scholarship}
        self.update("applicant", applicant["id"], offer | {"start_on": dt.date(2026, 4, 6)}, self.officer)
        request = self.platform.approvals.request_for("applicant", applicant["id"])
        assert request is not None and request.approval == "admission_review"
        self.platform.approvals.approve(request.id, actor=self.actors["admissions.manager@example.com"])
        result = convert(
            self.records,
            "admit_applicant",
            applicant["id"],
            actor=self.officer,
            choices={"guardian": {"use": "skip"}},
        )
        return {"course": course, "offering": offering, "applicant": applicant} | {
            name: record for name, record in result.records.items() if record is not None
        }


def test_admission_invoice_lines_and_fee_rollups(engine) -> None:
    school = School(engine)
    made = school.admitted(scholarship=10)
    student, enrolment = made["student"], made["enrolment"]
    assert "guardian" not in made
    assert (
        school.records.get("applicant", made["applicant"]["id"], actor=school.officer)["stage"] == "enrolled"
    )
    assert (student["name"], student["national_id"]) == ("李雷 Li Lei", "31010419990101123X")
    assert enrolment["student"] == student["id"] and enrolment["offering"] == made["offering"]["id"]
    assert (enrolment["fee"], enrolment["net_fee"]) == (Decimal(16800), Decimal(15120))

    # The officer lists the fee breakdown; the scholarship is a negative item.
    for item, description, amount in (
        ("tuition", "Tuition", 16000),
        ("materials", "Books", 800),
        ("scholarship", "Scholarship 10%", -1680),
    ):
        values = {
            "enrolment": enrolment["id"],
            "item": item,
            "description": description,
            "amount": Decimal(amount),
        }
        school.records.create("enrolment_item", values, actor=school.officer)
    issued = run_action(
        school.records, "enrolment", "issue_fee_invoice", enrolment["id"], actor=school.finance
    )
    invoice = issued.record
    assert issued.object == "fee_invoice"
    assert (invoice["student"], invoice["enrolment"], invoice["amount"]) == (
        student["id"],
        enrolment["id"],
        Decimal(15120),
    )
    assert invoice["status"] == "open" and invoice["owner_id"] == school.officer.user_id
    lines = sorted((line["item"], line["amount"], line["invoice"]) for line in issued.lines)
    assert lines == [
        ("materials", Decimal(800), invoice["id"]),
        ("scholarship", Decimal(-1680), invoice["id"]),
        ("tuition", Decimal(16000), invoice["id"]),
    ]

    for amount, status in ((5000, "received"), (10120, "received"), (300, "refunded")):
        values = {
            "student": student["id"],
            "invoice": invoice["id"],
            "amount": Decimal(amount),
            "status": status,
        }
        school.records.create("fee_payment", values, actor=school.finance)
    student = school.records.get("student", student["id"], actor=school.finance)
    assert (student["invoiced"], student["paid"], student["outstanding"]) == (15120, 15120, 15120)
    school.update("fee_invoice", invoice["id"], {"status": "paid"}, school.finance)
    student = school.records.get("student", student["id"], actor=school.finance)
    assert (student["outstanding"], student["enrolments"]) == (0, 1)
    assert school.records.get("fee_invoice", invoice["id"], actor=school.finance)["paid"] == 15120
    enrolment = school.records.get("enrolment", enrolment["id"], actor=school.registrar)
    assert (enrolment["fee_total"], enrolment["invoiced"]) == (15120, 15120)

    # Seats: only confirmed and active enrolments take one.
    offering = school.records.get("course_offering", made["offering"]["id"], actor=school.registrar)
    assert (offering["enrolled"], offering["pending"]) == (0, 1)
    school.update("enrolment", enrolment["id"], {"status": "confirmed"}, school.registrar)
    offering = school.records.get("course_offering", made["offering"]["id"], actor=school.registrar)
    assert (offering["enrolled"], offering["pending"]) == (1, 0)

    # "Issue fee invoice" is not offered for a withdrawn enrolment.
    school.update("enrolment", enrolment["id"], {"status": "withdrawn"}, school.registrar)
    with pytest.raises(StateError, match="Issue fee invoice"):
        run_action(school.records, "enrolment", "issue_fee_invoice", enrolment["id"], actor=school.finance)


def test_a_new_applicant_is_matched_with_the_student_they_already_are(engine) -> None:
    school = School(engine)
    made = school.admitted(scholarship=0)
    finder = DuplicateFinder(school.records)
    assert finder.scope("applicant") == ("applicant", "student")
    by_id = finder.find("applicant", {"name": "Lei Li", "national_id": "31010419990101123X"})
    assert {(m.object, m.record_id) for m in by_id} >= {("student", made["student"]["id"])}
    by_phone = finder.find("applicant", {"name": "Li", "phone": "13912345678"})
    assert ("student", made["student"]["id"]) in {(m.object, m.record_id) for m in by_phone}
    # The identity number is unique among students: admitting the same person again as a new
    # student is refused, so the officer takes the existing one.
    values = {"name": "Lei Li", "programme": "language", "national_id": "31010419990101123X"}
    values |= {"stage": "interview", "interview_on": dt.date(2026, 3, 2)}
    again = school.records.create("applicant", values, actor=school.officer)
    offer = {"stage": "offer", "quoted_fee": Decimal(9800), "start_on": dt.date(2026, 9, 1)}
    school.update("applicant", again["id"], offer, school.officer)
    request = school.platform.approvals.request_for("applicant", again["id"])
    assert request is not None
    school.platform.approvals.approve(request.id, actor=school.actors["admissions.manager@example.com"])
    with pytest.raises(ValidationError):
        convert(
            school.records,
            "admit_applicant",
            again["id"],
            actor=school.officer,
            choices={"guardian": {"use": "skip"}},
        )
    choices = {"guardian": {"use": "skip"}, "student": {"use": "existing", "id": made["student"]["id"]}}
    result = convert(school.records, "admit_applicant", again["id"], actor=school.officer, choices=choices)
    assert result.id("student") == made["student"]["id"]
    assert result.records["enrolment"]["student"] == made["student"]["id"]


@pytest.mark.slow
def test_crm_demo_builds_the_education_school(tmp_path, capsys) -> None:
    db = tmp_path / "school.sqlite3"
    assert main(["demo", "--blueprint", str(EDUCATION), "--no-serve", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "admissions.manager@example.com" in out and "demo-officer" in out
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:

            def count(sql: str) -> int:
                return int(conn.execute(sa.text(sql)).scalar_one())

            for table in (
                "applicant",
                "student",
                "enrolment",
                "fee_invoice",
                "fee_invoice_line",
                "fee_payment",
            ):
                assert count(f"SELECT count(*) FROM {table}") > 0, table
            stages = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT stage FROM applicant"))}
            assert stages == {"enquiry", "applied", "interview", "offer", "enrolled", "declined"}
            assert count("SELECT count(*) FROM crm_approval_requests WHERE status = 'pending'") >= 1
            assert count("SELECT count(*) FROM crm_activities") > 0
            assert count("SELECT count(*) FROM crm_tasks WHERE done_at IS NULL") > 0
    finally:
        engine.dispose()
    # A second run finds the data and keeps it.
    assert main(["demo", "--blueprint", str(EDUCATION), "--no-serve", "--db", str(db)]) == 0
    assert "Using the existing demo database" in capsys.readouterr().out


def test_crm_demo_refuses_a_blueprint_without_demo_data(tmp_path, capsys) -> None:
    other = tmp_path / "tiny.yaml"
    other.write_text(
        "blueprint: tiny\nversion: 1\nobjects:\n"
        "  thing:\n    title: name\n    fields:\n      name: {type: text}\n",
        encoding="utf-8",
    )
    assert main(["demo", "--blueprint", str(other), "--no-serve", "--db", str(tmp_path / "x.sqlite3")]) == 1
    assert "no demo data for blueprint 'tiny'" in capsys.readouterr().out


def test_finance_reads_applicants_and_students_without_their_identity_number(engine) -> None:
    school = School(engine)
    made = school.admitted(scholarship=10)
    applicant = school.records.get("applicant", made["applicant"]["id"], actor=school.finance)
    student = school.records.get("student", made["student"]["id"], actor=school.finance)
    assert "national_id" not in applicant and "interview_notes" not in applicant
    assert "national_id" not in student and student["name"] == "李雷 Li Lei"
    assert (
        school.records.get("student", student["id"], actor=school.registrar)["national_id"]
        == "31010419990101123X"
    )
