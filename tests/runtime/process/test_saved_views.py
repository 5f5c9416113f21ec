"""Saved list views: save the URL state under a name, list, share, delete; and the table's migration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError, ValidationError
from crm_platform.runtime.migrations.changes import ChangeKind
from crm_platform.runtime.migrations.migrate import apply_migration, migrate, plan_migration
from crm_platform.runtime.process.saved_views import SavedViews
from crm_platform.runtime.storage.view_tables import SAVED_VIEWS
from tests.support.html import one, page, texts
from tests.support.list_world import ListWorld, build_list_world, list_blueprint


@pytest.fixture
def world(engine: Engine) -> ListWorld:
    return build_list_world(engine)


def _names(answer: object) -> list[str]:
    return texts(page(answer), ".list-row th.title a")


def _save(world: ListWorld, user: object, name: str, query: str, *, shared: bool = False) -> int:
    browser = world.browser(user)  # type: ignore[arg-type]
    data = {"name": name, "query": query, **({"shared": "1"} if shared else {})}
    answer = browser.post("/o/deal/views", data)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/o/deal?view=")
    return int(location.rsplit("=", 1)[1])


def test_a_saved_view_keeps_the_lists_state_and_opens_from_the_view_menu(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    view_id = _save(world, world.ann, "Big ones", "f=amount:gte:500&sort=-amount&cols=name,amount")
    answer = ann.get(f"/o/deal?view={view_id}")
    soup = page(answer)
    assert _names(answer) == ["Beta", "Gamma"]
    assert texts(soup, ".view-menu h1") == ["Big ones ▾"]
    assert texts(soup, ".list-table thead th")[1:] == ["Name", "Amount ↓"]
    assert texts(soup, ".chip") == ["Amount ≥ 500 ×"]
    # Opening it as saved is not a change: nothing to save or reset.
    assert not soup.select(".view-changed")
    menu = texts(soup, ".view-menu .view-option a")
    assert menu[0] == "All"
    assert "Big ones" in menu and "Open deals" in menu


def test_all_is_first_and_has_no_delete_button(world: ListWorld) -> None:
    _save(world, world.ann, "Mine", "q=alp")
    soup = page(world.browser(world.ann).get("/o/deal"))
    options = soup.select(".view-menu .view-option")
    assert " ".join(options[0].get_text().split()) == "All"
    assert not options[0].select("form")
    # The user's own saved view has one.
    mine = next(o for o in options if "Mine" in o.get_text())
    assert mine.select("form.delete-view")


def test_a_changed_view_offers_save_as_new_and_reset(world: ListWorld) -> None:
    view_id = _save(world, world.ann, "Open ones", "f=stage:is:open")
    soup = page(
        world.browser(world.ann).get(
            f"/o/deal?view={view_id}&f=stage:is:open&f=priority:is:low&sort=-updated_at"
        )
    )
    assert texts(soup, ".view-changed summary") == ["Save as new view"]
    assert one(soup, ".reset-view")["href"] == f"/o/deal?view={view_id}"
    # The form keeps the whole current state, without the view it came from.
    query = one(soup, ".save-view input[name=query]")["value"]
    assert "f=stage%3Ais%3Aopen" in query and "f=priority%3Ais%3Alow" in query and "view" not in query


def test_removing_the_last_chip_of_a_saved_view_does_not_bring_it_back(world: ListWorld) -> None:
    view_id = _save(world, world.ann, "Won", "f=stage:is:won")
    ann = world.browser(world.ann)
    soup = page(ann.get(f"/o/deal?view={view_id}"))
    remove = one(soup, ".chip-remove")["href"]
    answer = ann.get(remove)
    assert _names(answer) == ["Alpha", "Beta", "Gamma"]
    assert texts(page(answer), ".chip") == []


def test_personal_views_are_private_and_shared_ones_are_seen_by_others(world: ListWorld) -> None:
    _save(world, world.ann, "Ann private", "q=a")
    shared = _save(world, world.ann, "Team view", "f=stage:is:open", shared=True)
    bob = world.browser(world.bob)
    soup = page(bob.get("/o/deal"))
    menu = texts(soup, ".view-menu .view-option a")
    assert "Team view · shared" in menu
    assert not any("Ann private" in item for item in menu)
    # Bob may use the shared view (on his own records) but not delete it.
    assert _names(bob.get(f"/o/deal?view={shared}")) == ["Delta"]
    team = next(o for o in soup.select(".view-menu .view-option") if "Team view" in o.get_text())
    assert not team.select("form")
    assert bob.post(f"/o/deal/views/{shared}/delete").status_code == 403
    assert "Team view · shared" in texts(page(bob.get("/o/deal")), ".view-menu .view-option a")


def test_a_private_view_of_someone_else_is_not_found(world: ListWorld) -> None:
    private = _save(world, world.ann, "Ann private", "q=a")
    bob = world.browser(world.bob)
    answer = bob.get(f"/o/deal?view={private}")
    assert texts(page(answer), ".list-problem") == ["That view no longer exists; showing All."]
    assert bob.post(f"/o/deal/views/{private}/delete").status_code == 404


def test_the_author_deletes_their_view(world: ListWorld) -> None:
    view_id = _save(world, world.ann, "Short-lived", "q=a")
    ann = world.browser(world.ann)
    answer = ann.post(f"/o/deal/views/{view_id}/delete")
    assert answer.status_code == 303
    assert "Short-lived" not in " ".join(texts(page(ann.get("/o/deal")), ".view-menu .view-option a"))


def test_a_broken_view_is_refused_with_the_reason(world: ListWorld) -> None:
    ann = world.browser(world.ann)
    answer = ann.post("/o/deal/views", {"name": "Bad", "query": "f=amount:gte:lots"})
    assert answer.status_code == 422
    assert "The view was not saved" in " ".join(texts(page(answer), ".list-notice"))
    answer = ann.post("/o/deal/views", {"name": "", "query": "q=a"})
    assert answer.status_code == 422
    assert "The view was not saved: a view needs a name" in " ".join(texts(page(answer), ".list-notice"))


def test_the_service_validates_the_query_against_the_object_and_the_users_hidden_fields(
    world: ListWorld,
) -> None:
    views = SavedViews(world.web.services.records)
    ann = Actor(world.ann.id)
    with pytest.raises(ValidationError) as refused:
        views.save(ann, "deal", "Hidden", "f=margin:gte:10")
    assert "unknown field 'margin'" in refused.value.fields["query"]
    with pytest.raises(ValidationError) as refused:
        views.save(ann, "deal", "Typo", "sort=-amout")
    assert "did you mean 'amount'" in refused.value.fields["query"]
    with pytest.raises(ValidationError) as refused:
        views.save(ann, "deal", "Days", "f=close_date:last:many")
    assert "number of days" in refused.value.fields["query"]
    # The manager sees margin, so the same query is fine for her.
    mia = Actor(world.mia.id)
    views.save(mia, "deal", "Margins", "f=margin:gte:10")
    shared = views.save(mia, "deal", "Shared", "q=a", shared=True)
    assert [v.name for v in views.list_for(world.mia.id, "deal")] == ["Margins", "Shared"]
    assert [v.name for v in views.list_for(world.ann.id, "deal")] == ["Shared"]
    with pytest.raises(ForbiddenError):
        views.delete(ann, shared.id)
    views.delete(mia, shared.id)
    assert views.list_for(world.ann.id, "deal") == []


def test_migrating_an_older_database_creates_the_saved_views_table(engine: Engine) -> None:
    blueprint = list_blueprint()
    migrate(engine, blueprint)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {SAVED_VIEWS}"))  # as a database of an older platform
    plan = plan_migration(engine, blueprint)
    created = [c for c in plan.changes if c.kind is ChangeKind.CREATE_TABLE]
    assert [c.table for c in created] == [SAVED_VIEWS]
    apply_migration(engine, plan)
    assert SAVED_VIEWS in sa.inspect(engine).get_table_names()
    assert plan_migration(engine, blueprint).is_empty
