"""Whatever an admin types, the rule language answers with a RuleError, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_platform.rules import RuleError, compile_rule, describe, parse_rule
from tests.support.rule_blueprint import BLUEPRINT, CANONICAL_RULES

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Pieces users (and typos) put into rules: keywords, punctuation, quotes, odd characters.
PIECES = [
    *"abcxyz019 _.,;:{}[]()\"'\\-+*/=<>!→\n\t",
    "->",
    "==",
    " if ",
    " to ",
    "created",
    "changes",
    "enters stage",
    "idle",
    "days",
    "every",
    "monday",
    "at",
    "09:00",
    "notify",
    "owner",
    "manager",
    "role",
    "user",
    "contact",
    "email",
    "create task",
    "create ticket {",
    "set",
    "assign",
    "round robin in",
    "move to pool",
    "start approval",
    "call webhook",
    "before",
    "after",
    "order.signed_on",
    "status",
    "amount",
    '"signed"',
    "{company}",
    "\x00",
    "((((",
    "-" * 50,
    "today()",
    "lambda",
]


def _attempt(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleError as exc:
        assert exc.message
        assert exc.line >= 1 and exc.column >= 1
        return
    assert describe(rule)
    try:
        compile_rule(text, BLUEPRINT)
    except RuleError as exc:
        assert exc.message
        assert exc.column >= 1


@FUZZ
@given(st.text(max_size=120))
def test_random_text_only_ever_raises_rule_errors(text: str) -> None:
    _attempt(text)


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join))
def test_random_sequences_of_rule_words_only_ever_raise_rule_errors(text: str) -> None:
    _attempt(text)


@FUZZ
@given(
    st.sampled_from(CANONICAL_RULES),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=200), st.integers(0, 3), st.sampled_from(PIECES)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_canonical_rules_only_ever_raise_rule_errors(
    rule: str, mutations: list[tuple[int, int, str]]
) -> None:
    text = rule
    for position, cut, piece in mutations:
        at = position % (len(text) + 1)
        text = text[:at] + piece + text[at + cut :]  # insert, or replace a few characters
    _attempt(text)
