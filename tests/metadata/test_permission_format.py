"""The ``permissions:`` section of a blueprint: model, errors with positions, round trip, extends."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_platform.metadata import BlueprintError, dump_blueprint, load_blueprint, load_blueprint_text
from crm_platform.metadata.model import Action, FieldAccess, FieldGrant, Grant, Scope
from tests.support.permission_world import OBJECTS, PERMISSIONS, permission_blueprint


def _errors(text: str) -> list[str]:
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text, "p.yaml")
    return [str(d) for d in raised.value.diagnostics]


def test_grants_become_the_model() -> None:
    blueprint = permission_blueprint()
    grants = {(g.role, g.object): g for g in blueprint.permissions or ()}

    rep_deal = grants[("sales_rep", "deal")]
    assert (rep_deal.read, rep_deal.create, rep_deal.edit, rep_deal.delete) == (
        Scope.OWN,
        Scope.OWN,
        Scope.OWN,
        Scope.NONE,  # not named: none
    )
    assert rep_deal.fields == (
        FieldGrant("amount", FieldAccess.READ_ONLY),
        FieldGrant("margin", FieldAccess.HIDDEN),
    )
    assert grants[("sales_manager", "*")].scope(Action.DELETE) is Scope.TEAM
    assert rep_deal.position is not None and (rep_deal.position.file, rep_deal.position.line) == (
        "perms.yaml",
        18,
    )


def test_no_section_is_none_and_an_empty_one_is_kept() -> None:
    assert permission_blueprint(with_permissions=False).permissions is None
    empty = load_blueprint_text(OBJECTS + "permissions: {}\n")
    assert empty.permissions == ()
    # An empty section restricts everyone, so a dump must keep it.
    assert load_blueprint_text(dump_blueprint(empty)).permissions == ()


def test_permissions_round_trip() -> None:
    blueprint = permission_blueprint()
    text = dump_blueprint(blueprint)

    assert "deal: {read: own, create: own, edit: own, fields: {amount: read_only, margin: hidden}}" in text
    assert load_blueprint_text(text, "perms.yaml") == blueprint


def test_unknown_role_object_field_and_scope_are_errors_with_positions() -> None:
    text = OBJECTS + (
        "permissions:\n"
        "  sales_repp:\n"
        "    deal: {read: own}\n"
        "  sales_manager:\n"
        "    dael: {read: all}\n"
        "    deal: {read: all, fields: {margn: hidden}}\n"
        "    account: {read: everything}\n"
        "  finance:\n"
        '    "*": {reed: all}\n'
    )
    # One run reports the shape errors and the name errors of the rest, each at its place.
    assert _errors(text) == [
        "p.yaml:17:3: permissions name undeclared role 'sales_repp'; did you mean 'sales_rep'? "
        "(declare it under roles:)",
        "p.yaml:20:5: permissions of role 'sales_manager' name unknown object 'dael'; did you mean 'deal'?",
        "p.yaml:21:32: permissions of role 'sales_manager' name unknown field 'margn' of deal; "
        "did you mean 'margin'?",
        "p.yaml:22:21: unknown value 'everything'; expected one of none, own, team, all",
        "p.yaml:24:11: unknown key 'reed' in 'permissions.finance.*'; did you mean 'read'?",
    ]

    fixed = text.replace("read: everything", "read: all").replace("reed", "read")
    assert _errors(fixed) == _errors(text)[:3]


def test_field_restrictions_need_a_named_object() -> None:
    text = OBJECTS + 'permissions:\n  finance:\n    "*": {read: all, fields: {amount: hidden}}\n'
    assert _errors(text) == ["p.yaml:18:5: field restrictions of role 'finance' need a named object, not '*'"]


def test_extends_replaces_a_role_grant_per_object(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(OBJECTS + PERMISSIONS)
    (tmp_path / "top.yaml").write_text(
        "extends: base.yaml\nblueprint: top\nversion: 2\n"
        "permissions:\n"
        "  sales_rep:\n"
        "    deal: {read: team}\n"
        "  intern:\n"
        "    account: {read: all}\n"
    )
    blueprint = load_blueprint(tmp_path / "top.yaml")
    grants = {(g.role, g.object): g for g in blueprint.permissions or ()}

    # The named entry is replaced whole (its field restrictions are gone) ...
    assert grants[("sales_rep", "deal")] == Grant("sales_rep", "deal", read=Scope.TEAM)
    # ... the role's other entries and other roles stay; new roles are added.
    assert grants[("sales_rep", "account")].edit is Scope.OWN
    assert grants[("finance", "*")].read is Scope.ALL
    assert grants[("intern", "account")].read is Scope.ALL
    assert grants[("sales_rep", "deal")].position.file.endswith("top.yaml")
