"""Broken process declarations: each case breaks tests/blueprints/good/shop_process.yaml in one
place and pins every diagnostic with its file, line, column and wording."""

from __future__ import annotations

import pytest

from crm_platform.metadata import BlueprintError, load_blueprint_text
from tests.support.paths import TEST_BLUEPRINTS

BASE = (TEST_BLUEPRINTS / "good" / "shop_process.yaml").read_text(encoding="utf-8")


def errors_of(old: str, new: str) -> list[str]:
    """The diagnostics of the base blueprint with ``old`` replaced by ``new`` once."""
    assert old in BASE
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(BASE.replace(old, new, 1), "b.yaml")
    return [str(d) for d in raised.value.diagnostics]


CASES = [
    pytest.param(
        "amount_field: amount",
        "amount_field: amout",
        [
            "b.yaml:34:19: amount_field of 'deal' names unknown field 'amout'; did you mean 'amount'?",
        ],
        id="role_unknown",
    ),
    pytest.param(
        "party_field: account",
        "party_field: name",
        [
            "b.yaml:35:18: party_field 'name' of 'deal' must be a lookup, not text",
        ],
        id="role_type",
    ),
    pytest.param(
        "contact_field: email",
        "contact_field: company",
        [
            "b.yaml:8:20: contact_field 'company' of 'lead' must be an email field or a lookup to an "
            "object with one, not text",
        ],
        id="contact_lookup_without_email",
    ),
    pytest.param(
        "card: [amount, owner_id]",
        "card: [amount, ownr_id]",
        [
            "b.yaml:36:20: card of 'deal' names unknown field 'ownr_id'; did you mean 'owner_id'?",
        ],
        id="card_unknown",
    ),
    pytest.param(
        "pool: {status: pool}",
        "pool: {stauts: pool}",
        [
            "b.yaml:9:12: pool of 'lead' sets unknown field 'stauts'; did you mean 'status'?",
        ],
        id="pool_unknown",
    ),
    pytest.param(
        "pool: {status: pool}",
        "pool: {status: pol}",
        [
            "b.yaml:9:20: pool of 'lead' sets 'status' to 'pol', which is not one of its choices; did you "
            "mean 'pool'?",
        ],
        id="pool_choice",
    ),
    pytest.param(
        "pool: {status: pool}",
        "pool: {status: pool, score: high}",
        [
            "b.yaml:9:33: pool of 'lead' sets 'score' to 'high', which is not an integer",
        ],
        id="pool_integer",
    ),
    pytest.param(
        "pool: {status: pool}",
        "pool: {status: pool, note: 3}",
        [
            "b.yaml:9:32: pool of 'lead' sets 'note' to 3, which is not a string",
        ],
        id="pool_multi",
    ),
    pytest.param(
        "from: [closing]",
        "from: [closng]",
        [
            "b.yaml:47:42: from of stage 'won' of 'deal' names unknown stage 'closng'; did you mean "
            "'closing'?",
        ],
        id="from_unknown",
    ),
    pytest.param(
        "from: [closing]",
        "from: [won]",
        [
            "b.yaml:47:42: from of stage 'won' of 'deal' names the stage itself",
        ],
        id="from_itself",
    ),
    pytest.param(
        "requires_approval: review",
        "requires_approval: reviw",
        [
            "b.yaml:47:71: stage 'won' of 'deal' requires unknown approval 'reviw'; did you mean 'review'?",
        ],
        id="approval_unknown",
    ),
    pytest.param(
        "reason: why}",
        "reason: wy}",
        [
            "b.yaml:48:45: reason of stage 'lost' of 'deal' names unknown field 'wy'; did you mean 'why'?",
        ],
        id="reason_unknown",
    ),
    pytest.param(
        "reason: why}",
        "reason: amount}",
        [
            "b.yaml:48:45: reason 'amount' of stage 'lost' of 'deal' must be a choice, text or long_text "
            "field, not money",
        ],
        id="reason_type",
    ),
    pytest.param(
        "{field: email, match: email}",
        "{field: emial, match: email}",
        [
            "b.yaml:19:19: duplicate key 1 of 'lead' names unknown field 'emial'; did you mean 'email'?",
        ],
        id="dup_field_unknown",
    ),
    pytest.param(
        "{field: email, match: email}",
        "{field: company, match: email}",
        [
            "b.yaml:19:35: duplicate key 'company' of 'lead' is text; match email needs an email field",
        ],
        id="dup_match_type",
    ),
    pytest.param(
        "{field: email, match: email}",
        "{field: email, match: email, country: CN}",
        [
            "b.yaml:19:49: country of duplicate key 'email' of 'lead' suits match phone only",
        ],
        id="dup_country",
    ),
    pytest.param(
        "        - {field: phone, match: phone, country: CN}",
        "        - {field: phone, match: phone, country: CN}\n        - {field: email, match: exact}",
        [
            "b.yaml:21:19: duplicate key 'email' in duplicates of 'lead' (first defined at line 19)",
        ],
        id="dup_twice",
    ),
    pytest.param(
        "compare_with: [account]",
        "compare_with: [acount]",
        [
            "b.yaml:21:22: duplicates of 'lead' compare with unknown object 'acount'; did you mean "
            "'account'?",
        ],
        id="compare_unknown",
    ),
    pytest.param(
        "compare_with: [account]",
        "compare_with: [lead]",
        [
            "b.yaml:21:22: duplicates of 'lead' compare with 'lead' itself; records are always compared "
            "within their own object",
        ],
        id="compare_self",
    ),
    pytest.param(
        "compare_with: [account]",
        "compare_with: [deal]",
        [
            "b.yaml:21:22: duplicates of 'lead' compare with 'deal', which declares no duplicates",
        ],
        id="compare_no_rules",
    ),
    pytest.param(
        "create: quote",
        "create: quot",
        [
            "b.yaml:51:17: action 'offer' of 'deal' creates unknown object 'quot'; did you mean 'quote'?",
        ],
        id="action_create_unknown",
    ),
    pytest.param(
        "create: quote",
        "create: quote_line",
        [
            "b.yaml:51:17: action 'offer' of 'deal' creates 'quote_line', which has no lookup to 'deal'",
            "b.yaml:52:15: map of action 'offer' of 'deal' names unknown field 'total' of 'quote_line'",
            "b.yaml:53:38: lines of action 'offer' of 'deal' go to 'quote_line', which has no lookup to "
            "'quote_line'",
        ],
        id="action_create_no_lookup",
    ),
    pytest.param(
        "map: {total: amount}",
        "map: {totl: amount}",
        [
            "b.yaml:52:15: map of action 'offer' of 'deal' names unknown field 'totl' of 'quote'; did you "
            "mean 'total'?",
        ],
        id="action_map_target",
    ),
    pytest.param(
        "map: {total: amount}",
        "map: {total: amont}",
        [
            "b.yaml:52:22: map of action 'offer' of 'deal' names unknown field 'amont' of 'deal'; did you "
            "mean 'amount'?",
        ],
        id="action_map_source",
    ),
    pytest.param(
        "map: {total: amount}",
        "map: {total: name}",
        [
            "b.yaml:52:22: map of action 'offer' of 'deal': 'quote.total' is money and cannot take "
            "'deal.name', which is text",
        ],
        id="action_map_type",
    ),
    pytest.param(
        "map: {total: amount}",
        "map: {total: amount}\n        no_copy: [nam]",
        [
            "b.yaml:53:19: no_copy of action 'offer' of 'deal' names unknown field 'nam' of 'deal'; did "
            "you mean 'name'?",
        ],
        id="action_no_copy",
    ),
    pytest.param(
        "lines: {from: deal_line",
        "lines: {from: deal_lin",
        [
            "b.yaml:53:23: lines of action 'offer' of 'deal' come from unknown object 'deal_lin'; did you "
            "mean 'deal_line'?",
        ],
        id="lines_from_unknown",
    ),
    pytest.param(
        "lines: {from: deal_line",
        "lines: {from: quote_line",
        [
            "b.yaml:53:23: lines of action 'offer' of 'deal' come from 'quote_line', which has no lookup "
            "to 'deal'",
        ],
        id="lines_from_no_lookup",
    ),
    pytest.param(
        "to: quote_line}",
        "to: deal_line}",
        [
            "b.yaml:53:38: lines of action 'offer' of 'deal' go to 'deal_line', which has no lookup to "
            "'quote'",
        ],
        id="lines_to_no_lookup",
    ),
    pytest.param(
        "when: 'stage == \"closing\"'",
        "when: 'stag == \"closing\"'",
        [
            "b.yaml:54:16: condition of action 'offer' of 'deal' uses unknown field 'stag'; did you mean "
            "'stage'?",
        ],
        id="when_field",
    ),
    pytest.param(
        "when: 'stage == \"closing\"'",
        "when: 'stage == '",
        [
            "b.yaml:54:16: condition of action 'offer' of 'deal': expression does not parse: invalid syntax",
        ],
        id="when_syntax",
    ),
    pytest.param(
        "sum: payment.amount",
        "sum: paymnt.amount",
        [
            "b.yaml:56:19: roll-up 'paid' of 'deal' names unknown object 'paymnt'; did you mean 'payment'?",
        ],
        id="rollup_child_unknown",
    ),
    pytest.param(
        "sum: payment.amount",
        "sum: payment.amont",
        [
            "b.yaml:56:19: roll-up 'paid' of 'deal' names unknown field 'amont' of 'payment'; did you mean "
            "'amount'?",
        ],
        id="rollup_field_unknown",
    ),
    pytest.param(
        "sum: payment.amount",
        "sum: payment.name",
        [
            "b.yaml:56:19: roll-up 'paid' of 'deal' cannot sum 'payment.name' (text): sum takes a number "
            "field",
        ],
        id="rollup_field_type",
    ),
    pytest.param(
        "sum: payment.amount",
        "sum: payment",
        [
            "b.yaml:56:19: sum of roll-up 'paid' of 'deal' needs a field: write 'payment.FIELD'",
        ],
        id="rollup_needs_field",
    ),
    pytest.param(
        "count: payment,",
        "count: payment.amount,",
        [
            "b.yaml:57:25: count of roll-up 'payments' of 'deal' counts records: write 'payment', not "
            "'payment.amount'",
        ],
        id="count_with_field",
    ),
    pytest.param(
        "payments: {count: payment, via: deal}",
        "payments: {count: payment, via: dea}",
        [
            "b.yaml:57:39: via of roll-up 'payments' of 'deal' names unknown field 'dea' of 'payment'; did "
            "you mean 'deal'?",
        ],
        id="rollup_via_unknown",
    ),
    pytest.param(
        "payments: {count: payment, via: deal}",
        "payments: {count: payment, via: name}",
        [
            "b.yaml:57:39: via 'name' of roll-up 'payments' of 'deal' must be a lookup on 'payment' to "
            "'deal', but it is a text field (lookups to 'deal': deal)",
        ],
        id="rollup_via_type",
    ),
    pytest.param(
        "where: 'status == \"in\"'",
        "where: 'state == \"in\"'",
        [
            "b.yaml:56:54: condition of roll-up 'paid' of 'deal' uses unknown field 'state'; did you mean "
            "'status'?",
        ],
        id="rollup_where",
    ),
    pytest.param(
        "payments: {count: payment, via: deal}",
        "amount: {count: payment, via: deal}",
        [
            "b.yaml:57:7: roll-up 'amount' of 'deal' has the name of a field of 'deal' (defined at "
            "b.yaml:40:7)",
        ],
        id="rollup_name_collision",
    ),
    pytest.param(
        "payments: {count: payment, via: deal}",
        "payments: {count: payment, sum: payment.amount, via: deal}",
        [
            "b.yaml:57:7: roll-up 'payments' of 'deal' needs exactly one of sum, count, min, max (found "
            "sum, count)",
        ],
        id="rollup_two_kinds",
    ),
    pytest.param(
        "payments: {count: payment, via: deal}",
        "payments: {via: deal}",
        [
            "b.yaml:57:7: roll-up 'payments' of 'deal' needs exactly one of sum, count, min, max",
        ],
        id="rollup_no_kind",
    ),
    pytest.param(
        "coalesce(paid, 0)",
        "coalesce(pad, 0)",
        [
            "b.yaml:43:73: formula of field 'balance' of 'deal' uses unknown field 'pad'; did you mean "
            "'paid'?",
        ],
        id="formula_unknown",
    ),
    pytest.param(
        "from: lead\n",
        "from: led\n",
        [
            "b.yaml:88:11: conversion 'win' converts unknown object 'led'; did you mean 'lead'?",
        ],
        id="conv_from_unknown",
    ),
    pytest.param(
        "      account: {map: {name: company}, existing: duplicates}",
        "      acount: {map: {name: company}}",
        [
            "b.yaml:92:7: conversion 'win' converts into unknown object 'acount'; did you mean 'account'?",
        ],
        id="conv_into_unknown",
    ),
    pytest.param(
        "open: deal",
        "open: dael",
        [
            "b.yaml:90:11: open of conversion 'win' names 'dael', which is not one of its targets "
            "(account, deal); did you mean 'deal'?",
        ],
        id="conv_open",
    ),
    pytest.param(
        "mark: {status: done}",
        "mark: {status: don}",
        [
            "b.yaml:89:20: mark of conversion 'win' sets 'status' to 'don', which is not one of its "
            "choices; did you mean 'done'?",
        ],
        id="conv_mark",
    ),
    pytest.param(
        "deal: {map: {name: company}, optional: true}",
        "deal: {map: {amount: company}, optional: true}",
        [
            "b.yaml:93:28: map of target 'deal' of conversion 'win': 'deal.amount' is money and cannot "
            "take 'lead.company', which is text",
        ],
        id="conv_map_type",
    ),
    pytest.param(
        "      account: {map: {name: company}, existing: duplicates}",
        "      account: {map: {name: company}}\n      payment: {map: {name: company}, existing: duplicates}",
        [
            "b.yaml:93:49: target 'payment' of conversion 'win' reuses records found by duplicate rules, "
            "but 'payment' declares no duplicates",
        ],
        id="conv_existing",
    ),
    pytest.param(
        "      deal: {map: {name: company}, optional: true}",
        "      lead: {}",
        [
            "b.yaml:90:11: open of conversion 'win' names 'deal', which is not one of its targets "
            "(account, lead)",
            "b.yaml:93:7: conversion 'win' converts 'lead' into itself",
        ],
        id="conv_itself",
    ),
    pytest.param(
        "{field: email, match: email}",
        "{field: email, match: mail}",
        [
            "b.yaml:19:33: unknown match kind 'mail'; did you mean 'email'?",
        ],
        id="match_unknown",
    ),
    pytest.param(
        "country: CN}",
        "country: China}",
        [
            "b.yaml:20:49: expected a two-letter ISO country code such as 'CN', got 'China'",
        ],
        id="country_bad",
    ),
    pytest.param(
        "existing: duplicates}",
        "existing: always}",
        [
            "b.yaml:92:49: unknown existing-record policy 'always'; expected one of never, duplicates",
        ],
        id="existing_bad",
    ),
    pytest.param(
        "party_field: account",
        "party_field: account\n    contact_field: account",
        [
            "b.yaml:36:20: contact_field 'account' of 'deal' is a lookup to 'account', which has no email "
            "field",
        ],
        id="contact_lookup_no_email",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_broken_process_declarations(old: str, new: str, expected: list[str]) -> None:
    assert errors_of(old, new) == expected


def test_pool_may_not_clear_a_required_field() -> None:
    text = BASE.replace("company: {type: text}", "company: {type: text, required: true}", 1)
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(text.replace("pool: {status: pool}", "pool: {company: null}", 1), "b.yaml")
    assert [str(d) for d in raised.value.diagnostics] == [
        "b.yaml:9:21: pool of 'lead' sets 'company' to nothing, but the field is required"
    ]


def test_base_is_valid() -> None:
    assert load_blueprint_text(BASE, "b.yaml").object("deal").rollup("paid").via == "deal"
