"""Permissions enforced by the record service: scopes on records, lists, counts and searches;
hidden and read-only fields; owners; admins and the platform; no section, no restriction.

The org chart is in tests/permission_world.py: Ann and Mia in team east, Bob in west,
Cid reports to Ann (so to Mia), Fay is finance, Ivy an intern without grants.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_platform.metadata.model import Condition, FilterOp
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.errors import ForbiddenError, NotFoundError, QueryError, ValidationError
from tests.support.permission_world import World, build_world


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return build_world(engine)


def _owners(world: World, records: list[dict]) -> set[str]:
    by_id = {v: k for k, v in world.users.items()}
    return {by_id[r["owner_id"]] for r in records}


SEARCH = [Condition("name", FilterOp.CONTAINS, "deal of")]

# who sees whose deals: own (rep), team (manager: own team + reports, transitively), all, none
EXPECTED = {
    "ann": {"ann"},
    "bob": {"bob"},
    "cid": {"cid"},
    "mia": {"ann", "cid", "mia"},
    "fay": {"ann", "bob", "cid", "mia"},
    "ivy": set(),
    "ada": {"ann", "bob", "cid", "mia"},
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_scope_on_lists_counts_and_searches(world: World, who: str) -> None:
    actor = world.actor(who)
    expected = EXPECTED[who]

    assert _owners(world, world.service.list("deal", actor=actor).records) == expected
    assert world.service.count("deal", actor=actor) == len(expected)
    assert _owners(world, world.service.list("deal", actor=actor, filters=SEARCH).records) == expected
    assert world.service.count("deal", actor=actor, filters=SEARCH) == len(expected)


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_scope_on_single_records(world: World, who: str) -> None:
    actor = world.actor(who)
    for owner, deal in world.deals.items():
        if owner in EXPECTED[who]:
            assert world.service.get("deal", deal["id"], actor=actor)["name"] == f"Deal of {owner}"
        else:
            with pytest.raises(NotFoundError) as hidden:
                world.service.get("deal", deal["id"], actor=actor)
            with pytest.raises(NotFoundError) as missing:
                world.service.get("deal", 999_999, actor=actor)
            # The same answer as for a record that does not exist: existence does not leak.
            assert str(hidden.value) == str(missing.value).replace("999999", str(deal["id"]))


def test_team_scope_pages_with_a_cursor(world: World) -> None:
    first = world.service.list("deal", actor=world.actor("mia"), limit=2, sort="name")
    second = world.service.list("deal", actor=world.actor("mia"), limit=2, sort="name", cursor=first.next)

    assert [r["name"] for r in first.records + second.records] == [
        "Deal of ann",
        "Deal of cid",
        "Deal of mia",
    ]
    assert second.next is None


def test_a_record_outside_read_scope_is_404_for_edit_and_delete(world: World) -> None:
    bob_deal = world.deals["bob"]
    ann = world.actor("ann")

    with pytest.raises(NotFoundError):
        world.service.update("deal", bob_deal["id"], {"name": "Mine"}, version=1, actor=ann)
    with pytest.raises(NotFoundError):
        world.service.delete("deal", bob_deal["id"], actor=ann)
    with pytest.raises(NotFoundError):
        world.service.history("deal", bob_deal["id"], actor=ann)
    assert world.service.get("deal", bob_deal["id"], actor=SYSTEM)["name"] == "Deal of bob"


def test_a_readable_record_outside_edit_or_delete_scope_is_403(world: World) -> None:
    ann_deal = world.deals["ann"]

    with pytest.raises(ForbiddenError, match="may not edit deal"):
        world.service.update("deal", ann_deal["id"], {"name": "x"}, version=1, actor=world.actor("fay"))
    with pytest.raises(ForbiddenError, match="may not delete deal"):
        world.service.delete("deal", ann_deal["id"], actor=world.actor("ann"))
    assert world.service.get("deal", ann_deal["id"], actor=SYSTEM)["name"] == "Deal of ann"


def test_edit_and_delete_inside_scope_work(world: World) -> None:
    ann_deal, cid_deal = world.deals["ann"], world.deals["cid"]

    edited = world.service.update(
        "deal", ann_deal["id"], {"name": "Renamed"}, version=1, actor=world.actor("ann")
    )
    world.service.delete("deal", cid_deal["id"], actor=world.actor("mia"))

    assert edited["name"] == "Renamed"
    assert world.service.count("deal", actor=SYSTEM) == 3


def test_create_needs_a_grant_and_an_owner_inside_its_scope(world: World) -> None:
    with pytest.raises(ForbiddenError, match="may not create deal"):
        world.service.create("deal", {"name": "x"}, actor=world.actor("fay"))
    with pytest.raises(ForbiddenError, match="may not create deal"):
        world.service.create("deal", {"name": "x"}, actor=world.actor("ivy"))
    with pytest.raises(ForbiddenError, match="outside it"):
        world.service.create("deal", {"name": "x", "owner_id": world.users["bob"]}, actor=world.actor("ann"))

    mine = world.service.create("deal", {"name": "New"}, actor=world.actor("ann"))
    assert mine["owner_id"] == world.users["ann"]
    assert world.service.count("deal", actor=SYSTEM) == 5


def test_reassigning_needs_the_new_owner_inside_the_edit_scope(world: World) -> None:
    ann_deal = world.deals["ann"]
    ann, mia = world.actor("ann"), world.actor("mia")

    # A rep with edit: own cannot give a deal away ...
    with pytest.raises(ForbiddenError):
        world.service.update("deal", ann_deal["id"], {"owner_id": world.users["cid"]}, version=1, actor=ann)
    # ... a manager may move it within the team, but not out of it.
    with pytest.raises(ForbiddenError):
        world.service.update("deal", ann_deal["id"], {"owner_id": world.users["bob"]}, version=1, actor=mia)
    moved = world.service.update(
        "deal", ann_deal["id"], {"owner_id": world.users["cid"]}, version=1, actor=mia
    )

    assert moved["owner_id"] == world.users["cid"]
    assert world.service.get("deal", ann_deal["id"], actor=SYSTEM)["owner_id"] == world.users["cid"]


def test_platform_columns_cannot_be_mass_assigned(world: World) -> None:
    deal = world.deals["ann"]
    with pytest.raises(ValidationError) as refused:
        world.service.update(
            "deal",
            deal["id"],
            {"version": 9, "created_by": world.users["bob"]},
            version=1,
            actor=world.actor("ann"),
        )
    assert set(refused.value.fields) == {"version", "created_by"}
    assert world.service.get("deal", deal["id"], actor=SYSTEM)["version"] == 1


# -- fields -----------------------------------------------------------------------------------------


def test_hidden_field_never_leaves_the_service(world: World) -> None:
    ann = world.actor("ann")
    deal = world.deals["ann"]

    assert "margin" not in world.service.get("deal", deal["id"], actor=ann)
    assert all("margin" not in r for r in world.service.list("deal", actor=ann).records)
    created = world.service.create("deal", {"name": "Fresh"}, actor=ann)
    assert "margin" not in created
    updated = world.service.update("deal", deal["id"], {"name": "Again"}, version=1, actor=ann)
    assert "margin" not in updated
    assert "margin" in world.service.get("deal", deal["id"], actor=world.actor("mia"))


def test_hidden_field_history_is_left_out(world: World) -> None:
    deal = world.deals["ann"]
    world.service.update("deal", deal["id"], {"margin": 30, "name": "Changed"}, version=1, actor=SYSTEM)

    seen = {e.field for e in world.service.history("deal", deal["id"], actor=world.actor("ann"))}
    everything = {e.field for e in world.service.history("deal", deal["id"])}

    assert "margin" in everything and "margin" not in seen and "name" in seen


def test_hidden_field_cannot_filter_sort_or_be_written(world: World) -> None:
    ann = world.actor("ann")
    deal = world.deals["ann"]

    with pytest.raises(QueryError, match="unknown field 'margin'"):
        world.service.list("deal", actor=ann, filters=[Condition("margin", FilterOp.GT, 10)])
    with pytest.raises(QueryError, match="unknown field 'margin'"):
        world.service.count("deal", actor=ann, filters=[Condition("margin", FilterOp.GT, 10)])
    with pytest.raises(QueryError, match="unknown field 'margin'"):
        world.service.list("deal", actor=ann, sort="-margin")
    with pytest.raises(ValidationError) as refused:
        world.service.update("deal", deal["id"], {"margin": 99}, version=1, actor=ann)
    assert refused.value.fields == {"margin": "'margin' is not writable"}
    with pytest.raises(ValidationError):
        world.service.create("deal", {"name": "x", "margin": 5}, actor=ann)
    assert world.service.get("deal", deal["id"], actor=SYSTEM)["margin"] == 12


def test_read_only_field_is_shown_but_refused_on_write(world: World) -> None:
    ann = world.actor("ann")
    deal = world.deals["ann"]

    assert world.service.get("deal", deal["id"], actor=ann)["amount"] == 100
    with pytest.raises(ValidationError) as refused:
        world.service.update("deal", deal["id"], {"amount": 1}, version=1, actor=ann)
    assert refused.value.fields == {"amount": "'amount' is read-only for role sales_rep"}
    assert world.service.get("deal", deal["id"], actor=SYSTEM)["amount"] == 100
    # Another role may write it.
    assert (
        world.service.update("deal", deal["id"], {"amount": 7}, version=1, actor=world.actor("mia"))["amount"]
        == 7
    )


# -- who is never restricted --------------------------------------------------------------------------


def test_admin_and_system_see_and_do_everything(world: World) -> None:
    for actor in (world.actor("ada"), SYSTEM):
        records = world.service.list("deal", actor=actor).records
        assert len(records) == 4 and all("margin" in r for r in records)
    bob_deal = world.deals["bob"]
    assert world.service.update("deal", bob_deal["id"], {"amount": 5}, version=1, actor=world.actor("ada"))


def test_a_role_given_on_the_actor_is_used_without_reading_the_user(world: World) -> None:
    # The web layer passes the role it already read; the service then trusts it.
    as_finance = Actor(world.users["ann"], role="finance")
    assert world.service.count("deal", actor=as_finance) == 4


def test_without_a_permissions_section_nothing_is_restricted(engine: sa.Engine) -> None:
    world = build_world(engine, with_permissions=False)
    ann = world.actor("ann")

    assert world.service.count("deal", actor=ann) == 4
    bob_deal = world.service.get("deal", world.deals["bob"]["id"], actor=ann)
    assert bob_deal["margin"] == 12
    world.service.delete("deal", bob_deal["id"], actor=ann)
    assert world.service.count("deal", actor=SYSTEM) == 3


# -- crm permissions explain --------------------------------------------------------------------------


def test_crm_permissions_explain_names_the_grant_and_scope(tmp_path, capsys) -> None:
    from crm_platform.cli import main
    from crm_platform.runtime.storage.db import create_engine
    from tests.support.permission_world import OBJECTS, PERMISSIONS

    blueprint = tmp_path / "perms.yaml"
    blueprint.write_text(OBJECTS + PERMISSIONS)
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = create_engine(url)
    world = build_world(engine)
    engine.dispose()
    ann_deal, bob_deal, cid_deal = (world.deals[n]["id"] for n in ("ann", "bob", "cid"))

    def explain(user: str, id: int) -> list[str]:
        args = [
            "permissions",
            "explain",
            f"{user}@example.com",
            "deal",
            str(id),
            "--blueprint",
            str(blueprint),
        ]
        assert main([*args, "--db", url]) == 0
        return capsys.readouterr().out.splitlines()

    assert explain("ann", ann_deal) == [
        f"ann@example.com (role sales_rep) and deal {ann_deal}:",
        f"  read: allowed — role sales_rep grants read: own on deal, "
        f"and ann@example.com owns deal {ann_deal}",
        f"  edit: allowed — role sales_rep grants edit: own on deal, "
        f"and ann@example.com owns deal {ann_deal}",
        "  delete: denied — role sales_rep grants no delete on deal",
        "  fields: amount read-only, margin hidden",
    ]
    denied = explain("ann", bob_deal)
    assert denied[1] == (
        f"  read: denied — role sales_rep grants read: own on deal, "
        f"and deal {bob_deal} is owned by bob@example.com"
    )
    assert denied[2].startswith("  edit: denied — ann@example.com cannot read")
    assert explain("mia", cid_deal)[1] == (
        f"  read: allowed — role sales_manager grants read: team on every object ('*'), "
        f"and deal {cid_deal}'s owner cid@example.com reports to mia@example.com"
    )
    assert explain("ivy", ann_deal)[1] == "  read: denied — role intern has no grant for deal (nor for '*')"
    assert explain("ada", bob_deal)[1].startswith("  read: allowed — ada@example.com has the role admin")
