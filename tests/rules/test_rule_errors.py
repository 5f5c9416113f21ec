"""Malformed and ill-typed rules: each gets one exact message at the column of the problem.

The messages are what ``crm check`` prints after ``file:line:col:``; the column is
within the rule text (1 = its first character).
"""

from __future__ import annotations

import pytest

from crm_platform.rules import (
    RuleError,
    RuleReferenceError,
    RuleSyntaxError,
    RuleTypeError,
    compile_rule,
    parse_rule,
    rule_errors,
)
from tests.support.rule_blueprint import BLUEPRINT

# Rules that do not parse (or hold an expression that does not): (text, error class, column, message).
# fmt: off
SYNTAX = [
    ('lead created if name == "a\\_b" -> notify owner', RuleSyntaxError, 25,
     "expression does not parse: invalid escape sequence '\\_'"),
    ('lead created -> notify owner "Hi {}"', RuleSyntaxError, 34,
     "expected a field name in braces (as in {company}), got '{}'"),
    ('lead created if amount > 1 -> set score = (1', RuleSyntaxError, 43,
     "expression does not parse: '(' was never closed"),
    ('opportunity idel 3 days -> notify manager', RuleSyntaxError, 13,
     'expected a trigger (created, updated, deleted, .FIELD changes, enters stage, idle, every) after '
     "'opportunity', got 'idel'; did you mean 'idle'?"),
    ('opportunity idle days -> notify manager', RuleSyntaxError, 18,
     "expected a number (as in 'idle 3 days') after 'idle', got 'days'"),
    ('opportunity idle 3 -> notify manager', RuleSyntaxError, 20,
     "expected a unit (minutes, hours or days) after '3', got '->'"),
    ('opportunity idle 3 weeks -> notify manager', RuleSyntaxError, 20,
     "expected a unit (minutes, hours or days) after '3', got 'weeks'"),
    ('lead created ->', RuleSyntaxError, 16,
     'expected an action (notify, email, create task, create OBJECT, set, assign, move to pool, start '
     "approval, call webhook) after '->', got the end of the rule"),
    ('lead created -> notify', RuleSyntaxError, 23,
     'expected a recipient (owner, manager, role NAME, team NAME, user "EMAIL", contact or a user field) '
     "after 'notify', got the end of the rule"),
    ('lead created -> fly', RuleSyntaxError, 17,
     'expected an action (notify, email, create task, create OBJECT, set, assign, move to pool, start '
     "approval, call webhook) after '->', got 'fly'"),
    ('lead created if -> move to pool', RuleSyntaxError, 17,
     'expected a condition (as in \'if status == "new"\') after \'if\', got \'->\''),
    ('lead created -> set x =', RuleSyntaxError, 24,
     "expected a value (an expression) after '=', got the end of the rule"),
    ('lead created -> notify owner !', RuleSyntaxError, 30,
     "expected a quoted text, ';' or the end of the rule after 'owner', got '!'"),
    ('"x" created -> move to pool', RuleSyntaxError, 1,
     "expected an object name (or 'N days before/after OBJECT.FIELD') at the start of the rule, got "
     '\'"x"\''),
    ('lead.x changes to', RuleSyntaxError, 18,
     "expected a value (a quoted text, a number or a name) after 'to', got the end of the rule"),
    ('lead created -> create ticket {a: 1 b: 2}', RuleSyntaxError, 37,
     "expression does not parse: invalid syntax"),
    ('contract status changes to "signed" -> move to pool', RuleSyntaxError, 10,
     'expected a trigger (created, updated, deleted, .FIELD changes, enters stage, idle, every) after '
     "'contract', got 'status'; a field change is written 'contract.status changes'"),
    ('lead created notify owner', RuleSyntaxError, 14,
     "expected 'if' or '->' after 'created', got 'notify'"),
    ('lead created -> move to pool;', RuleSyntaxError, 30,
     'expected an action (notify, email, create task, create OBJECT, set, assign, move to pool, start '
     "approval, call webhook) after ';', got the end of the rule"),
    ('opportunity enters proposal -> notify owner', RuleSyntaxError, 20,
     "expected 'stage' after 'enters', got 'proposal'"),
    ('opportunity enters stage -> notify owner', RuleSyntaxError, 26,
     "expected a stage name after 'stage', got '->'"),
    ('3 days after order -> move to pool', RuleSyntaxError, 20,
     "expected '.' after 'order', got '->'"),
    ('3 weeks after order.signed_on -> move to pool', RuleSyntaxError, 3,
     "expected 'days' after '3', got 'weeks'"),
    ('account every month at 09:00 -> notify owner', RuleSyntaxError, 15,
     "expected day, weekday or a day of the week (monday to sunday) after 'every', got 'month'"),
    ('account every monday at 25:00 -> notify owner', RuleSyntaxError, 25,
     "expected a time from 00:00 to 23:59, got '25:00'"),
    ('account every monday 9am -> notify owner', RuleSyntaxError, 22,
     "expected 'at' after 'monday', got '9am'"),
    ('lead created -> email contact', RuleSyntaxError, 30,
     'expected a template name in quotes (as in "csat_survey") after \'contact\', got the end of the rule'),
    ('lead created -> email contact csat', RuleSyntaxError, 31,
     'expected a template name in quotes (as in "csat_survey") after \'contact\', got \'csat\''),
    ('lead created -> notify user bob', RuleSyntaxError, 29,
     'expected an e-mail address in quotes (as in user "ann@example.com") after \'user\', got \'bob\''),
    ('lead created -> create task', RuleSyntaxError, 28,
     'expected a task title in quotes (as in create task "Call back") after \'task\', got the end of the '
     'rule'),
    ('lead created -> create task "x" due in days', RuleSyntaxError, 40,
     "expected a number of days (as in 'due in 2 days') after 'in', got 'days'"),
    ('lead created -> create task "x" due 2 days', RuleSyntaxError, 37,
     "expected 'in' after 'due', got '2'"),
    ('lead created -> assign round robin in squad x', RuleSyntaxError, 39,
     "expected 'team' or 'role' after 'in', got 'squad'"),
    ('lead created -> assign lead', RuleSyntaxError, 24,
     "expected 'by', 'round' or 'to' after 'assign', got 'lead'"),
    ('lead created -> start approval', RuleSyntaxError, 31,
     "expected an approval name after 'approval', got the end of the rule"),
    ('lead created -> call webhook', RuleSyntaxError, 29,
     "expected a webhook name after 'webhook', got the end of the rule"),
    ('lead created if status = "new" -> move to pool', RuleSyntaxError, 24,
     "expected '==' to compare, got '='"),
    ('lead created if foo(1) -> move to pool', RuleReferenceError, 17,
     "unknown function 'foo'; expected one of: abs, add_days, add_hours, coalesce, days_between, decimal, "
     "int, len, lower, max, min, now, round, str, today, upper"),
    ('lead created if lenn(name) > 3 -> move to pool', RuleReferenceError, 17,
     "unknown function 'lenn'; expected one of: abs, add_days, add_hours, coalesce, days_between, decimal, "
     "int, len, lower, max, min, now, round, str, today, upper; did you mean 'len'?"),
    ('lead created -> notify owner "Hi {first name}"', RuleSyntaxError, 34,
     "expected a field name in braces (as in {company}), got '{first name}'"),
    ('lead created -> set amount = amount +', RuleSyntaxError, 30,
     "expression does not parse: invalid syntax"),
    ('lead idle 0 days -> move to pool', RuleSyntaxError, 11,
     "expected a number from 1 to 100000, got 0"),
    ('Lead Created -> move to pool', RuleSyntaxError, 6,
     'expected a trigger (created, updated, deleted, .FIELD changes, enters stage, idle, every) after '
     "'Lead', got 'Created'; did you mean 'created'?"),
    ('lead created -> notify owner "x" "y"', RuleSyntaxError, 34,
     'expected \';\' or the end of the rule after \'"x"\', got \'"y"\''),
    ('lead created => notify owner', RuleSyntaxError, 14,
     "expected 'if' or '->' after 'created', got '=>'"),
    ('lead created -> create ticket {subject "x"}', RuleSyntaxError, 40,
     'expected \':\' after \'subject\', got \'"x"\''),
    ('lead created -> create ticket {subject: }', RuleSyntaxError, 41,
     "expected a value (an expression) after ':', got '}'"),
    ('lead created -> move to the pool', RuleSyntaxError, 25,
     "expected 'pool' after 'to', got 'the'"),
    ('', RuleSyntaxError, 1,
     "a rule is empty; expected 'OBJECT TRIGGER -> ACTION'"),
    ('lead created -> notify owner "abc', RuleSyntaxError, 30,
     'a quoted text is not closed: add " at its end'),
]
# fmt: on

# Rules that parse but do not fit the blueprint: (text, error class, column, message).
# fmt: off
CHECK = [
    ('opportunity created if "2024-01-01" < close_date -> notify owner', RuleTypeError, 24,
     'cannot compare the text "2024-01-01" with close_date (a date field); expected a date (a date field '
     'or today())'),
    ('order created if shipped_at >= "x" -> notify owner', RuleTypeError, 18,
     'cannot compare shipped_at (a datetime field) with the text "x"; expected a datetime (a datetime '
     'field or now())'),
    ('account created -> set tags = ["hot", "hott"]', RuleReferenceError, 39,
     "unknown choice 'hott' of account.tags; expected one of: hot, follow_up; did you mean 'hot'?"),
    ('account created -> set tags = "hot"', RuleTypeError, 31,
     'cannot set tags (a multi choice field) to the text "hot"; expected a list (as in ["a", "b"])'),
    ('oportunity idle 3 days -> notify manager', RuleReferenceError, 1,
     "unknown object 'oportunity'; expected one of: lead, account, contact, opportunity, order, contract, "
     "ticket; did you mean 'opportunity'?"),
    ('opportunity enters stage propsal -> notify owner', RuleReferenceError, 26,
     "unknown stage 'propsal' of opportunity; expected one of: initial_contact, needs_analysis, proposal, "
     "negotiation, won, lost; did you mean 'proposal'?"),
    ('lead enters stage new -> notify owner', RuleError, 19,
     "lead has no stages; 'enters stage' needs an object with stages: opportunity"),
    ('contract.stauts changes to "signed" -> notify owner', RuleReferenceError, 10,
     "unknown field 'stauts' on contract; expected one of: name, account, amount, status, signed_at; did "
     "you mean 'status'?"),
    ('contract.status changes to "signd" -> notify owner', RuleReferenceError, 28,
     "unknown choice 'signd' of contract.status; expected one of: draft, under_review, signed, cancelled; "
     "did you mean 'signed'?"),
    ('contract.amount changes to "abc" -> notify owner', RuleTypeError, 28,
     'contract.amount is a money field and cannot be the text "abc"; expected a number'),
    ('3 days after order.total -> notify owner', RuleTypeError, 20,
     "order.total is a money field; 'after' needs a date or datetime field: signed_on, shipped_at"),
    ('3 days after order.signed -> notify owner', RuleReferenceError, 20,
     "unknown field 'signed' on order; expected one of: number, account, total, signed_on, shipped_at; did "
     "you mean 'signed_on'?"),
    ('lead created -> assign by source', RuleReferenceError, 27,
     'no assignment table for lead.source; declare one under assignments: (object: lead, field: source); '
     'expected a field with one: region'),
    ('lead created -> assign by regoin', RuleReferenceError, 27,
     "unknown field 'regoin' on lead; expected one of: company, name, email, region, status, source, "
     "score; did you mean 'region'?"),
    ('opportunity enters stage negotiation -> start approval contract_reveiw', RuleReferenceError, 56,
     "unknown approval 'contract_reveiw'; expected one of: contract_review; did you mean 'contract_review'?"),
    ('contract created -> start approval contract_review', RuleError, 36,
     "approval 'contract_review' is for opportunity records, not contract"),
    ('lead created -> notify role sales_mgr', RuleReferenceError, 29,
     "unknown role 'sales_mgr'; expected one of: sales_rep, sales_manager, finance, admin; did you mean "
     "'sales_manager'?"),
    ('lead created -> notify manger', RuleReferenceError, 24,
     'unknown recipient \'manger\'; expected owner, manager, role NAME, team NAME, user "EMAIL", contact '
     "or a user field of lead; did you mean 'manager'?"),
    ('lead created -> notify company', RuleTypeError, 24,
     "lead.company is a text field; a recipient must be a user field"),
    ('ticket.status changes to "resolved" -> email contact "csat_survy"', RuleReferenceError, 54,
     "unknown template 'csat_survy'; expected one of: csat_survey; did you mean 'csat_survey'?"),
    ('account created -> email contact "csat_survey"', RuleReferenceError, 26,
     "account has no contact e-mail; declare contact_field on account "
     "(an email field, or a lookup to an object with one)"),
    ('lead created -> call webhook erpp', RuleReferenceError, 30,
     "unknown webhook 'erpp'; expected one of: erp; did you mean 'erp'?"),
    ('lead created -> notify owner "New lead: {compnay}"', RuleReferenceError, 41,
     "unknown field 'compnay' on lead; expected one of: company, name, email, region, status, source, "
     "score; did you mean 'company'?"),
    ('opportunity created if close_date > "2024-01-01" -> notify owner', RuleTypeError, 24,
     'cannot compare close_date (a date field) with the text "2024-01-01"; expected a date (a date field '
     'or today())'),
    ('opportunity created -> set amount = "abc"', RuleTypeError, 37,
     'cannot set amount (a money field) to the text "abc"; expected a number'),
    ('opportunity created -> set amonut = 5', RuleReferenceError, 28,
     "unknown field 'amonut' on opportunity; expected one of: name, account, contact, amount, discount, "
     "close_date, stage, is_key, reviewer, next_step, net_amount; did you mean 'amount'?"),
    ('opportunity created -> set net_amount = 5', RuleError, 28,
     "cannot set net_amount: it is a formula field, computed by the platform"),
    ('lead created if status == "nwe" -> move to pool', RuleReferenceError, 27,
     "unknown choice 'nwe' of lead.status; expected one of: new, working, qualified, unqualified; did you "
     "mean 'new'?"),
    ('lead created if staus == "new" -> move to pool', RuleReferenceError, 17,
     "unknown field 'staus' on lead; expected one of: company, name, email, region, status, source, score; "
     "did you mean 'status'?"),
    ('contract.status changes to "signed" -> create tiket {subject: name}', RuleReferenceError, 47,
     "unknown object 'tiket'; expected one of: lead, account, contact, opportunity, order, contract, "
     "ticket; did you mean 'ticket'?"),
    (
     'contract.status changes to "signed" -> create ticket {subject: "Onboarding " + amount}',
     RuleTypeError, 64,
     'cannot add the text "Onboarding " and amount (a money field)'),
    ('lead deleted -> set status = "new"', RuleError, 17,
     "a deleted record cannot be changed; only notify, email, create and call webhook may follow 'deleted'"),
    ('lead created -> assign to role sales_rep', RuleError, 27,
     "a record is assigned to one user, not to a role; write 'assign round robin in role sales_rep'"),
    ('lead created -> assign to contact', RuleError, 27,
     "cannot assign to contact: a contact is not a user of the platform"),
    ('lead created -> assign round robin in role sales', RuleReferenceError, 44,
     "unknown role 'sales'; expected one of: sales_rep, sales_manager, finance, admin; did you mean "
     "'sales_rep'?"),
    ('lead created -> notify user "bob"', RuleTypeError, 29,
     "expected an e-mail address after 'user', got 'bob'"),
    ('opportunity created -> set close_date = 5', RuleTypeError, 41,
     'cannot set close_date (a date field) to the number 5; expected a date (a date field, today() or '
     '"YYYY-MM-DD")'),
    ('opportunity created -> set close_date = "2024-02-30"', RuleTypeError, 41,
     'cannot set close_date (a date field) to the text "2024-02-30"; expected a date (a date field, '
     'today() or "YYYY-MM-DD")'),
    ('opportunity created if days_between(close_date, "x") > 3 -> notify owner', RuleTypeError, 49,
     'days_between needs dates, got the text "x"'),
    ('account created if "hott" in tags -> notify owner', RuleReferenceError, 20,
     "unknown choice 'hott' of account.tags; expected one of: hot, follow_up; did you mean 'hot'?"),
    ('opportunity created -> create task "x" for contact', RuleError, 44,
     "cannot give a task to contact: a contact is not a user of the platform"),
    ('ticket created -> notify contact', RuleError, 26,
     "cannot notify contact: a contact is not a user of the platform; "
     "write 'email contact \"TEMPLATE\"' to reach them"),
    ('opportunity.is_key changes to "yes" -> notify owner', RuleTypeError, 31,
     'opportunity.is_key is a boolean field and cannot be the text "yes"; expected true or false'),
    ('lead created -> set score = -name', RuleTypeError, 29,
     "cannot negate name (a text field)"),
    ('lead created -> create ticket {subject: name, subject: company}', RuleError, 47,
     "subject is given twice"),
    ('lead created if name > 5 -> notify owner', RuleTypeError, 17,
     "cannot compare name (a text field) with the number 5; expected a text"),
    ('opportunity created -> set is_key = 1', RuleTypeError, 37,
     "cannot set is_key (a boolean field) to the number 1; expected true or false"),
    ('lead created -> email company "csat_survey"', RuleTypeError, 23,
     "lead.company is a text field; a recipient must be a user or email field"),
    ('order created -> email contact "csat_survey"', RuleReferenceError, 24,
     "order has no contact e-mail; declare contact_field on order "
     "(an email field, or a lookup to an object with one)"),
    ('opportunity created -> set stage = "wonn"', RuleReferenceError, 36,
     "unknown stage 'wonn' of opportunity.stage; expected one of: initial_contact, needs_analysis, "
     "proposal, negotiation, won, lost; did you mean 'won'?"),
    ('lead created -> assign to owner', RuleError, 27,
     "cannot assign to owner: the record already belongs to its owner"),
    ('opportunity.close_date changes to "tomorrow" -> notify owner', RuleTypeError, 35,
     'opportunity.close_date is a date field and cannot be the text "tomorrow"; expected a date as '
     '"YYYY-MM-DD"'),
    ('lead created -> set score = "high"', RuleTypeError, 29,
     'cannot set score (an integer field) to the text "high"; expected a number'),
    ('opportunity idle 3 days -> notify manager; set amount = amount + name', RuleTypeError, 57,
     "cannot add amount (a money field) and name (a text field)"),
    ('lead created if "new" == status and score + "1" > 2 -> notify owner', RuleTypeError, 37,
     'cannot add score (an integer field) and the text "1"'),
    ('lead updated -> create task "Call {company}" for role finanse due in 2 days', RuleReferenceError, 55,
     "unknown role 'finanse'; expected one of: sales_rep, sales_manager, finance, admin; did you mean "
     "'finance'?"),
]
# fmt: on

# Rules with several problems report all of them, in the order of the text.
# fmt: off
MULTI = [
    ('contract.status changes to "signed" -> create ticket {subjct: name, kind: "onbording"}', [
        (RuleReferenceError, 55,
         "unknown field 'subjct' on ticket; expected one of: subject, kind, status, contact, priority, "
         "due_on, assignee; did you mean 'subject'?"),
        (RuleReferenceError, 75,
         "unknown choice 'onbording' of ticket.kind; expected one of: onboarding, incident, question; did "
         "you mean 'onboarding'?"),
    ]),
    ('opportunity created if amount > "100" and stage == "propsal" -> notify owner', [
        (RuleTypeError, 24,
         'cannot compare amount (a money field) with the text "100"; expected a number'),
        (RuleReferenceError, 52,
         "unknown stage 'propsal' of opportunity.stage; expected one of: initial_contact, needs_analysis, "
         "proposal, negotiation, won, lost; did you mean 'proposal'?"),
    ]),
]
# fmt: on


@pytest.mark.parametrize(("text", "kind", "column", "message"), SYNTAX)
def test_a_malformed_rule_is_refused_with_a_friendly_message(
    text: str, kind: type[RuleError], column: int, message: str
) -> None:
    with pytest.raises(kind) as caught:
        parse_rule(text)
    assert (caught.value.message, caught.value.column) == (message, column)
    assert type(caught.value) is kind


@pytest.mark.parametrize(("text", "kind", "column", "message"), CHECK)
def test_a_rule_that_does_not_fit_the_blueprint_is_refused(
    text: str, kind: type[RuleError], column: int, message: str
) -> None:
    parse_rule(text)  # it is well-formed: only the check finds the problem
    (error,) = rule_errors(text, BLUEPRINT)
    assert (type(error), error.column, error.message) == (kind, column, message)


@pytest.mark.parametrize(("text", "expected"), MULTI)
def test_every_problem_of_a_rule_is_reported(text: str, expected: list[tuple[type, int, str]]) -> None:
    assert [(type(e), e.column, e.message) for e in rule_errors(text, BLUEPRINT)] == expected


def test_there_are_plenty_of_cases() -> None:
    assert len(SYNTAX) + len(CHECK) + len(MULTI) >= 35


def test_compile_rule_raises_the_first_problem() -> None:
    with pytest.raises(RuleTypeError) as caught:
        compile_rule(
            'opportunity created if amount > "100" and stage == "propsal" -> notify owner', BLUEPRINT
        )
    assert caught.value.column == 24
    assert str(caught.value).startswith("cannot compare amount (a money field)")


def test_a_reference_error_carries_its_suggestion_and_what_was_expected() -> None:
    with pytest.raises(RuleReferenceError) as caught:
        compile_rule("opportunity enters stage propsal -> notify owner", BLUEPRINT)
    error = caught.value
    assert (error.kind, error.name, error.suggestion) == ("stage", "propsal", "proposal")
    assert error.expected == ("initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost")


def test_errors_on_a_later_line_of_a_rule_know_their_line() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("lead created ->\n  notify owner;\n  move to the pool")
    assert (caught.value.line, caught.value.column) == (3, 11)
    (error,) = rule_errors("lead created ->\n  notify rol", BLUEPRINT)
    assert (error.line, error.column) == (2, 10)


def test_the_errors_form_one_tree() -> None:
    assert issubclass(RuleSyntaxError, RuleError)
    assert issubclass(RuleReferenceError, RuleError)
    assert issubclass(RuleTypeError, RuleError)
    assert repr(RuleTypeError("x", 3)) == "RuleTypeError('x', column=3, line=1)"


@pytest.mark.parametrize("text", [None, 42, "   ", "x" * 5000])
def test_nothing_or_too_much_is_refused(text: object) -> None:
    with pytest.raises(RuleSyntaxError):
        parse_rule(text)  # type: ignore[arg-type]
