"""``crm demo``: the org chart, a believable data set, and a rep who can sign in and sees own deals."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from crm_platform.compose import compose
from crm_platform.demo import DemoDatabase, demo_blueprint_path, load_demo_blueprint, prepare
from crm_platform.runtime.storage.db import create_engine
from crm_platform.runtime.storage.tables import build_tables

SCALE = 150


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    path = Path(tmp_path_factory.mktemp("demo")) / "demo.sqlite3"
    return prepare(f"sqlite:///{path}", scale=SCALE)


@pytest.fixture(scope="module")
def engine(demo: DemoDatabase):
    engine = create_engine(demo.url)
    yield engine
    engine.dispose()


def _users(engine: sa.Engine) -> dict[str, sa.Row]:
    users = build_tables(load_demo_blueprint()).users
    with engine.connect() as conn:
        return {row.email: row for row in conn.execute(sa.select(users))}


pytestmark = pytest.mark.slow


def test_the_org_chart_has_every_part_and_the_region_reps(demo: DemoDatabase, engine: sa.Engine) -> None:
    users = _users(engine)
    roles = {email: row.role for email, row in users.items()}
    assert roles[demo.chart.rep] == "sales_rep"
    assert roles[demo.chart.manager] == "sales_manager"
    assert {"admin", "finance", "service_agent", "technician"} <= set(roles.values())
    assert users[demo.chart.rep].manager_id == users[demo.chart.manager].id
    # Every rep "assign by region" may pick exists and reports to the manager.
    for email in demo.chart.region_reps.values():
        assert users[email].manager_id == users[demo.chart.manager].id


def test_the_data_set_has_the_promised_size(demo: DemoDatabase) -> None:
    counts = demo.counts
    assert demo.created
    assert counts["opportunity"] == SCALE
    assert 0.25 * SCALE <= counts["account"] <= 0.35 * SCALE
    assert 1.5 * counts["account"] <= counts["contact"] <= 2.5 * counts["account"]
    assert 0.15 * SCALE <= counts["lead"] <= 0.25 * SCALE
    assert counts["quote"] > 0 and counts["contract"] > 0 and counts["payment"] > 0 and counts["ticket"] > 0


def test_deals_are_spread_over_the_stages_with_dated_stage_history(engine: sa.Engine) -> None:
    blueprint = load_demo_blueprint()
    tables = build_tables(blueprint)
    deals, history = tables.object("opportunity"), tables.metadata.tables["crm_stage_history"]
    with engine.connect() as conn:
        stages = dict(conn.execute(sa.select(deals.c.stage, sa.func.count()).group_by(deals.c.stage)).all())
        won = conn.execute(sa.select(deals.c.id).where(deals.c.stage == "won").limit(1)).scalar_one()
        path = conn.execute(
            sa.select(history)
            .where(history.c.record_id == won, history.c.object == "opportunity")
            .order_by(history.c.entered_at)
        ).all()
    assert set(stages) == {s.name for s in blueprint.object("opportunity").stages}
    assert [row.to_stage for row in path] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
    ]
    for before, after in itertools.pairwise(path):
        assert before.left_at == after.entered_at and before.duration_seconds > 0
    assert path[-1].left_at is None


def test_approvals_wait_for_the_manager_and_for_finance(demo: DemoDatabase, engine: sa.Engine) -> None:
    platform = compose(load_demo_blueprint(), engine)
    users = _users(engine)
    assert platform.approvals.pending_for(users[demo.chart.manager].id)
    assert platform.approvals.pending_for(users["finance@example.com"].id)
    assert platform.inbox.unread_count(users[demo.chart.rep].id) > 0
    assert platform.inbox.unread_count(users[demo.chart.manager].id) > 0


def test_the_rep_has_tasks_overdue_due_today_and_later(demo: DemoDatabase, engine: sa.Engine) -> None:
    platform = compose(load_demo_blueprint(), engine)
    rep = _users(engine)[demo.chart.rep].id
    today = dt.datetime.now(dt.UTC).date()
    due = [t.due_at.date() for t in platform.inbox.tasks(assignee_id=rep, open_only=True) if t.due_at]
    assert any(day < today for day in due)
    assert any(day == today for day in due)
    assert any(day > today for day in due)


def test_the_rep_signs_in_with_the_printed_password_and_sees_only_own_deals(
    demo: DemoDatabase, engine: sa.Engine
) -> None:
    from crm_platform.app import build_application

    application = build_application(str(demo_blueprint_path()), demo.url)
    rep = demo.chart.user(demo.chart.rep)
    rep_id = _users(engine)[rep.email].id
    with TestClient(application.app) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        signed_in = client.post(
            "/login",
            data={"email": rep.email, "password": rep.password, "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert signed_in.status_code in (302, 303)
        answer = client.get("/api/v1/records/opportunity?limit=500")
    assert answer.status_code == 200
    owners = {record["owner_id"] for record in answer.json()["data"]}
    assert owners == {rep_id}
    application.engine.dispose()


def test_a_second_run_reuses_the_data(demo: DemoDatabase) -> None:
    again = prepare(demo.url, scale=SCALE)
    assert not again.created and again.counts == demo.counts
