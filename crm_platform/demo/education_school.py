"""The school's past and today, written through the fully wired platform (see :mod:`.education`)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crm_platform.compose import Platform
from crm_platform.demo.education_data import (
    COURSES,
    DAY,
    FINANCE,
    FOLLOW_UPS,
    HOUR,
    PATHS,
    REASONS,
    REGISTRAR,
    Login,
    person,
)
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.mapping.convert import convert
from crm_platform.runtime.mapping.generate import run_action
from crm_platform.runtime.matching.finder import DuplicateFinder

Record = dict[str, Any]


class SchoolClock:
    """The moment each step of the past happened; never later than the real now."""

    def __init__(self, now: dt.datetime) -> None:
        self.real = now
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, when: dt.datetime) -> None:
        self.now = min(when, self.real - dt.timedelta(minutes=5))


class School:
    """Writes the school's past and today through ``platform``."""

    def __init__(
        self, platform: Platform, clock: SchoolClock, users: dict[str, Login], ids: dict[str, int]
    ) -> None:
        self.p = platform
        self.records = platform.records
        self.clock = clock
        self.now = clock.real
        self.rng = random.Random(20260302)
        self.users = users
        self.ids = ids
        self.manager = next(u.email for u in users.values() if u.role == "admissions_manager")
        self.courses: list[Record] = []
        self.classes: dict[int, list[Record]] = {}
        self.in_offer: list[Record] = []
        self.pending_enrolments: list[Record] = []
        self.students: list[Record] = []
        self.finder = DuplicateFinder(platform.records)

    def actor(self, email: str) -> Actor:
        role = self.users[email].role
        return Actor(self.ids[email], is_admin=role == "admin", role=role)

    def owner_of(self, record: Record) -> str:
        return next(e for e, i in self.ids.items() if i == record["owner_id"])

    def update(self, obj: str, record: Record, values: Record, by: str) -> Record:
        actor = self.actor(by)
        current = self.records.get(obj, record["id"], actor=actor)
        return self.records.update(obj, record["id"], values, version=current["version"], actor=actor)

    def follow_up(self, obj: str, record: Record, by: str) -> None:
        kind = self.rng.choice(list(FOLLOW_UPS))
        subject = self.rng.choice(FOLLOW_UPS[kind])
        self.p.sales.followups.log(obj, record["id"], kind=kind, subject=subject, actor=self.actor(by))

    def finish_tasks(self, record: Record, by: str) -> None:
        for task in self.p.inbox.tasks(object="applicant", record_id=record["id"], open_only=True):
            self.p.inbox.complete_task(task.id, user_id=self.ids[by])

    # -- the catalogue ----------------------------------------------------------------------------

    def catalogue(self) -> None:
        self.clock.at(self.now - 120 * DAY)
        registrar = self.actor(REGISTRAR)
        for code, name, programme, level, fee, weeks, mode in COURSES:
            values = {"code": code, "name": name, "programme": programme, "level": level}
            values |= {"fee": Decimal(fee), "duration_weeks": weeks, "mode": mode}
            course = self.records.create("course", values, actor=registrar)
            self.courses.append(course)
            today = self.now.date()
            for start, status, term in (
                (today - 40 * DAY, "running", "2026春季"),
                (today + 30 * DAY, "open", "2026夏季"),
            ):
                values = {"name": f"{name.split()[0]} {term}班", "course": course["id"], "term": term}
                values |= {"start_on": start, "end_on": start + weeks * 7 * DAY, "status": status}
                values |= {
                    "capacity": 30 if mode == "online" else 20,
                    "teacher": self.rng.choice(["李老师", "Ms. Carter", "王老师"]),
                }
                values["campus"] = (
                    "online" if mode == "online" else self.rng.choice(["shanghai", "beijing", "shenzhen"])
                )
                self.classes.setdefault(course["id"], []).append(
                    self.records.create("course_offering", values, actor=registrar)
                )

    # -- applicants -------------------------------------------------------------------------------

    def applicants(self, count: int = 72) -> None:
        paths, weights = list(PATHS), list(PATHS.values())
        for _ in range(count):
            self.applicant(self.rng.choices(paths, weights)[0])

    def applicant(self, end: str) -> None:
        rng = self.rng
        course = rng.choice(self.courses)
        offering = self.classes[course["id"]][1 if end != "enrolled" or rng.random() < 0.4 else 0]
        started = self.now - DAY * (rng.uniform(45, 110) if end == "enrolled" else rng.uniform(1, 60))
        values = person(self.rng)
        former = [st for st in self.students if st["programme"] == course["programme"]]
        if end == "enrolled" and former and rng.random() < 0.15:  # a former student, back for more
            again = rng.choice(former)
            values = {k: again[k] for k in ("name", "phone", "email", "national_id", "birth_date", "city")}
        national_id = values.pop("national_id")
        values |= {
            "programme": course["programme"],
            "source": rng.choice(["website", "wechat", "fair", "referral", "agent", "walk_in"]),
        }
        self.clock.at(started)
        record = self.records.create("applicant", values, actor=self.actor(self.manager))
        officer = self.owner_of(record)
        when = started
        steps = ["applied", "interview", "offer", "enrolled"]
        target = steps.index(end) + 1 if end in steps else 0 if end == "enquiry" else rng.randint(0, 3)
        if end == "enquiry" and started < self.now - 6 * DAY and rng.random() < 0.5:
            self.clock.at(started + 5 * DAY)  # nobody called back: the enquiry pool
            self.update("applicant", record, {"owner_id": None, "status": "pool"}, self.manager)
            return
        if end != "enquiry" or rng.random() < 0.6:
            when += rng.uniform(2, 20) * HOUR
            self.clock.at(when)
            self.follow_up("applicant", record, officer)
            record = self.update("applicant", record, {"status": "contacted"}, officer)
        for stage in steps[:target]:
            when += DAY * rng.uniform(1.5, 6 if end != "enrolled" else 8)
            self.clock.at(when)
            record = self.move(record, stage, course, offering, officer, national_id)
            if rng.random() < 0.6:
                self.clock.at(when + rng.uniform(3, 30) * HOUR)
                self.follow_up("applicant", record, officer)
        if end == "interview" and when + 2 * DAY < self.now:  # the interview took place
            self.finish_tasks(record, officer)
        if end == "declined":
            self.clock.at(when + DAY * rng.uniform(1, 5))
            self.finish_tasks(record, officer)
            record = self.update(
                "applicant", record, {"stage": "declined", "decline_reason": rng.choice(REASONS)}, officer
            )

    def move(
        self, record: Record, stage: str, course: Record, offering: Record, officer: str, national_id: str
    ) -> Record:
        rng = self.rng
        values: Record = {"stage": stage}
        if stage == "applied":
            values |= {"course": course["id"], "offering": offering["id"], "national_id": national_id}
            if course["programme"] == "kids":  # the parent who enquired for the child
                values |= {"guardian_name": record["name"][0] + rng.choice(["丽", "军", "敏", "强"])}
                values |= {
                    "guardian_relation": rng.choice(["mother", "father"]),
                    "guardian_phone": record["phone"],
                }
        elif stage == "interview":
            values["interview_on"] = (self.clock.now + 2 * DAY).date()
        elif stage == "offer":
            self.finish_tasks(record, officer)
            record = self.update("applicant", record, {"interview_score": rng.randint(62, 96)}, officer)
            scholarship = rng.choice([0, 0, 0, 10, 10, 20, 30])
            values |= {
                "quoted_fee": course["fee"],
                "scholarship": scholarship,
                "start_on": offering["start_on"],
            }
        elif stage == "enrolled":
            return self.enrol(record, course, offering, officer)
        record = self.update("applicant", record, values, officer)
        if stage == "offer":
            self.decide(record, officer)
            self.in_offer.append(record)
        return record

    def decide(self, record: Record, officer: str) -> None:
        """The manager (then finance, for a large scholarship) approves the admission review."""
        for approver, comment in (
            (self.manager, "面试表现良好，同意录取。"),
            (FINANCE, "Scholarship within budget."),
        ):
            request = self.p.approvals.request_for("applicant", record["id"])
            if request is None:
                break
            self.clock.at(self.clock.now + self.rng.uniform(2, 20) * HOUR)
            self.p.approvals.approve(request.id, actor=self.actor(approver), comment=comment)
        self.finish_tasks(record, officer)

    def enrol(self, applicant: Record, course: Record, offering: Record, officer: str) -> Record:
        """Admitted through admit_applicant (the student the duplicate rules found, if any), then
        the fee items, the registrar's confirmation and finance's invoice ("Issue fee invoice")."""
        self.in_offer = [r for r in self.in_offer if r["id"] != applicant["id"]]
        me = self.actor(officer)
        current = self.records.get("applicant", applicant["id"], actor=me)
        choices: dict[str, Any] = {"guardian": {"use": "new" if current.get("guardian_name") else "skip"}}
        mine = {st["id"] for st in self.students if st["owner_id"] == me.user_id}
        found = [m for m in self.finder.of_record("applicant", current) if m.record_id in mine]
        if found:  # a former student: the enrolment goes on their existing record
            choices["student"] = {"use": "existing", "id": found[0].record_id}
        result = convert(self.records, "admit_applicant", current["id"], actor=me, choices=choices)
        enrolment = result.records["enrolment"]
        assert enrolment is not None
        student = result.records["student"]
        assert student is not None
        self.students.append(student)
        enrolment = self.update("enrolment", enrolment, {"end_on": offering["end_on"]}, REGISTRAR)
        materials = Decimal(self.rng.choice([600, 800, 1200]))
        items = [
            ("tuition", "学费 Tuition", enrolment["fee"] - materials),
            ("materials", "教材资料费 Books", materials),
        ]
        if enrolment["net_fee"] != enrolment["fee"]:
            deduction = enrolment["net_fee"] - enrolment["fee"]
            items.append(("scholarship", f"奖学金 Scholarship {enrolment['scholarship']:.0f}%", deduction))
        for item, description, amount in items:
            values = {
                "enrolment": enrolment["id"],
                "item": item,
                "description": description,
                "amount": amount,
            }
            self.records.create("enrolment_item", values, actor=me)
        applicant = self.records.get("applicant", current["id"], actor=me)
        if self.rng.random() < 0.15 and offering["status"] == "open":
            self.pending_enrolments.append(enrolment)  # the registrar confirms it today
            return applicant
        self.clock.at(self.clock.now + self.rng.uniform(4, 30) * HOUR)
        enrolment = self.update("enrolment", enrolment, {"status": "confirmed"}, REGISTRAR)
        if offering["status"] == "running":
            enrolment = self.update("enrolment", enrolment, {"status": "active"}, REGISTRAR)
        self.invoice(enrolment)
        return applicant

    def invoice(self, enrolment: Record) -> None:
        """Finance issues the invoice; most families pay in full, some in part, a few not yet."""
        finance = self.actor(FINANCE)
        self.clock.at(self.clock.now + self.rng.uniform(2, 24) * HOUR)
        due = self.clock.now.date() + 14 * DAY
        invoice = run_action(
            self.records,
            "enrolment",
            "issue_fee_invoice",
            enrolment["id"],
            actor=finance,
            values={"due_on": due},
        ).record
        total = invoice["amount"]
        chance = self.rng.random()
        parts = [total] if chance < 0.7 else [(total / 2).quantize(Decimal("0.01"))] if chance < 0.9 else []
        for amount in parts:
            self.clock.at(self.clock.now + self.rng.uniform(1, 9) * DAY)
            values = {"student": enrolment["student"], "invoice": invoice["id"], "amount": amount}
            values |= {"paid_on": self.clock.now.date(), "owner_id": invoice["owner_id"]}
            values["method"] = self.rng.choice(["wechat_pay", "alipay", "bank_transfer", "card"])
            self.records.create("fee_payment", values, actor=finance)
        if parts == [total]:
            self.update("fee_invoice", invoice, {"status": "paid"}, FINANCE)
        elif due < self.now.date() - DAY:  # what the invoice_overdue rule did back then
            self.clock.at(dt.datetime.combine(due + DAY, dt.time(1), dt.UTC))
            self.update("fee_invoice", invoice, {"status": "overdue"}, FINANCE)

    # -- today ------------------------------------------------------------------------------------

    def today(self) -> None:
        """Today's work, at the real now: rules, approvals and the scheduler as ``crm serve`` runs them."""
        self.clock.real = self.clock.now = dt.datetime.now(dt.UTC)
        manager = self.actor(self.manager)
        for name, programme, email in (
            ("周子轩", "kids", "zx.zhou@example.com"),
            ("Olivia Tan", "business", "olivia.tan@example.com"),
            ("孙悦", "it", None),
        ):
            values = {
                "name": name,
                "programme": programme,
                "source": "website",
                "phone": f"139{self.rng.randint(10000000, 99999999)}",
            }
            self.records.create("applicant", values | ({"email": email} if email else {}), actor=manager)
        table = self.p.tables.object("applicant")
        with self.p.engine.connect() as conn:
            ids = (
                conn.execute(
                    sa.select(table.c.id)
                    .where(table.c.stage == "interview", table.c.owner_id.is_not(None))
                    .limit(2)
                )
                .scalars()
                .all()
            )
        for n, record_id in enumerate(ids):
            current = self.records.get("applicant", record_id, actor=manager)
            officer = self.owner_of(current)
            course = next(c for c in self.courses if c["id"] == current["course"])
            offering = self.classes[course["id"]][1]
            self.finish_tasks(current, officer)
            values = {
                "stage": "offer",
                "quoted_fee": course["fee"],
                "scholarship": 40 if n else 10,
                "start_on": offering["start_on"],
            }
            current = self.update("applicant", current, values, officer)
            if n:  # a large scholarship: the manager agrees, finance still has to
                request = self.p.approvals.request_for("applicant", record_id)
                if request is not None:
                    self.p.approvals.approve(request.id, actor=manager, comment="成绩优异，建议给予奖学金。")
        for enrolment in self.pending_enrolments[:1]:
            self.update("enrolment", enrolment, {"status": "confirmed"}, REGISTRAR)
        start = self.clock.now.replace(hour=9, minute=0, second=0, microsecond=0)
        for email, login in self.users.items():
            if login.role != "admissions_officer":
                continue
            mine = [r for r in self.in_offer if r["owner_id"] == self.ids[email]][:3]
            for offset, title in zip(
                (-1, 0, 2),
                (
                    "回电确认试听时间 Call back about the trial class",
                    "发送录取材料清单 Send the enrolment checklist",
                    "学员回访 Ask how the trial class went",
                ),
                strict=False,
            ):
                record_id = mine[0]["id"] if mine else None
                self.p.inbox.create_task(
                    title,
                    assignee_id=self.ids[email],
                    object="applicant" if record_id else None,
                    record_id=record_id,
                    due_at=start + offset * DAY,
                    created_by=self.ids[self.manager],
                )
