"""The org chart: manager chains, direct reports, teams, roles; cycles refused; changes audited."""

from __future__ import annotations

import pytest

from crm_platform.runtime.errors import ValidationError
from tests.support.sales_fixtures import Sales, add_user, make_sales


@pytest.fixture
def s(engine) -> Sales:
    return make_sales(engine)


def test_manager_chain_reports_and_teams(s: Sales, engine) -> None:
    org = s.sales.orgchart
    vp = add_user(engine, s.service, "vp@example.com", role="sales_manager")
    org.set_manager(s.manager.user_id, vp, actor=s.manager)
    second_rep = add_user(engine, s.service, "bo@example.com", role="sales_rep", manager=s.manager.user_id)

    assert [u.email for u in org.manager_chain(s.rep.user_id)] == ["mia@example.com", "vp@example.com"]
    assert org.manager_chain(vp) == []
    assert [u.id for u in org.direct_reports(s.manager.user_id)] == [s.rep.user_id, second_rep]

    org.set_team(s.rep.user_id, "east", actor=s.manager)
    org.set_team(second_rep, "east", actor=s.manager)
    assert [u.email for u in org.team_members("east")] == ["ana@example.com", "bo@example.com"]
    org.set_team(second_rep, None, actor=s.manager)
    assert [u.email for u in org.team_members("east")] == ["ana@example.com"]
    with pytest.raises(ValidationError) as missing:
        org.team_members("west")
    assert missing.value.fields == {"team": "there is no team 'west'"}


def test_a_manager_cycle_is_refused_with_the_chain_and_nothing_changes(s: Sales, engine) -> None:
    org = s.sales.orgchart
    with pytest.raises(ValidationError) as cycle:
        org.set_manager(s.manager.user_id, s.rep.user_id, actor=s.manager)
    assert cycle.value.fields["manager"] == (
        "ana@example.com reports to mia@example.com already (ana@example.com -> mia@example.com); "
        "making them the manager would create a cycle"
    )
    with pytest.raises(ValidationError) as own:
        org.set_manager(s.rep.user_id, s.rep.user_id, actor=s.manager)
    assert own.value.fields == {"manager": "ana@example.com cannot be their own manager"}
    assert org.manager_chain(s.manager.user_id) == []


def test_org_changes_and_roles_are_audited(s: Sales) -> None:
    org = s.sales.orgchart
    user = org.set_role(s.rep.user_id, "sales_manager", actor=s.manager)
    assert user.role == "sales_manager"
    with pytest.raises(ValidationError) as unknown:
        org.set_role(s.rep.user_id, "sales_mgr", actor=s.manager)
    assert "unknown role 'sales_mgr'" in unknown.value.fields["role"]
    org.set_manager(s.rep.user_id, None, actor=s.manager)
    history = s.service.tables.field_history
    with s.service.engine.connect() as conn:
        rows = conn.execute(
            history.select().where(history.c.object == "user", history.c.record_id == s.rep.user_id)
        ).all()
    assert [(r.field, r.old_value, r.new_value, r.changed_by) for r in rows] == [
        ("role", "sales_rep", "sales_manager", s.manager.user_id),
        ("manager_id", s.manager.user_id, None, s.manager.user_id),
    ]
