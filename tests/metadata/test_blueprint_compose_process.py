"""``extends`` merges the process declarations like the other sections: actions, roll-ups and
conversions are added (or replaced whole per name); roles, pool, duplicates and stages are replaced
as a whole; a clash with the extended file is reported with both positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_platform.metadata import BlueprintError, ExistingPolicy, MatchKind, RollupKind, load_blueprint

BASE = """\
blueprint: base
version: 1
objects:
  lead:
    title: company
    fields:
      company: {type: text}
      email: {type: email}
      status: {type: choice, choices: [new, done, pool]}
    pool: {status: pool}
    duplicates:
      keys: [{field: email, match: email}]
  account:
    title: name
    fields:
      name: {type: text}
  contract:
    title: name
    fields:
      name: {type: text}
      amount: {type: money}
      renews: {type: lookup, to: contract}
    rollups:
      received: {sum: payment.amount, via: contract}
    actions:
      renew: {create: contract, map: {name: name}}
  payment:
    title: name
    fields:
      name: {type: text}
      contract: {type: lookup, to: contract}
      amount: {type: money}
conversions:
  qualify:
    from: lead
    into:
      account: {map: {name: company}}
"""


def load(tmp_path: Path, top: str) -> object:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    path = tmp_path / "top.yaml"
    path.write_text("extends: base.yaml\nblueprint: top\nversion: 1\n" + top, encoding="utf-8")
    return load_blueprint(path)


def test_an_extending_blueprint_adds_and_replaces_process_declarations(tmp_path: Path) -> None:
    bp = load(
        tmp_path,
        """\
objects:
  lead:
    contact_field: email
    duplicates:
      keys: [{field: company, match: company_name}]
  contract:
    rollups:
      payments: {count: payment, via: contract}
      received: {sum: payment.amount, via: contract, where: 'amount > 0'}
    actions:
      amend: {create: contract}
conversions:
  archive:
    from: lead
    mark: {status: done}
    into:
      account: {existing: never}
""",
    )
    contract = bp.object("contract")  # type: ignore[attr-defined]
    assert [r.name for r in contract.rollups] == ["received", "payments"]
    assert contract.rollup("received").where == "amount > 0"
    assert contract.rollup("payments").kind is RollupKind.COUNT
    assert [a.name for a in contract.actions] == ["renew", "amend"]
    lead = bp.object("lead")  # type: ignore[attr-defined]
    assert lead.roles.contact == "email" and lead.pool[0].value == "pool"
    assert [k.match for k in lead.duplicates.keys] == [MatchKind.COMPANY_NAME]
    assert [c.name for c in bp.conversions] == ["qualify", "archive"]  # type: ignore[attr-defined]
    assert bp.conversion("archive").target("account").existing is ExistingPolicy.NEVER  # type: ignore[attr-defined]


def test_a_rollup_named_like_an_extended_field_names_both_places(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        load(
            tmp_path,
            """\
objects:
  contract:
    rollups:
      amount: {sum: payment.amount, via: contract}
""",
        )
    assert [str(d).replace(str(tmp_path), "T") for d in raised.value.diagnostics] == [
        "T/top.yaml:7:7: roll-up 'amount' of 'contract' has the name of a field of 'contract' "
        "(defined at T/base.yaml:21:7)"
    ]


def test_an_extending_file_may_not_convert_into_an_unknown_object(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as raised:
        load(tmp_path, "conversions:\n  qualify:\n    from: lead\n    into: {acount: {}}\n")
    assert [str(d).replace(str(tmp_path), "T") for d in raised.value.diagnostics] == [
        "T/top.yaml:7:12: conversion 'qualify' converts into unknown object 'acount'; did you mean 'account'?"
    ]
