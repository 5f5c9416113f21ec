"""``public_forms:``: built into PublicForm, checked with exact messages, dumped and loaded back."""

from __future__ import annotations

import dataclasses

import pytest

from crm_platform.metadata import (
    BlueprintError,
    FieldValue,
    Label,
    PublicForm,
    dump_blueprint,
    load_blueprint,
    load_blueprint_text,
)
from tests.support.paths import ROOT

BASE = """\
blueprint: web
version: 1
objects:
  account:
    title: name
    fields:
      name: {type: text, required: true}
  lead:
    title: company
    fields:
      company: {type: text, required: true}
      email: {type: email}
      source: {type: choice, choices: [web, event], required: true}
      status: {type: choice, choices: [new, done], required: true, default: new}
      score: {type: formula, returns: integer, formula: "1"}
      account: {type: lookup, to: account}
      notes: {type: long_text}
public_forms:
  contact:
    object: lead
    fields: [company, email, notes]
    label: {en: Contact us, zh: 联系我们}
    thanks: {en: Thanks, zh: 谢谢}
    set: {source: web}
"""


def errors_of(old: str, new: str) -> list[str]:
    """The diagnostics of BASE with ``old`` replaced by ``new`` once."""
    assert old in BASE
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(BASE.replace(old, new, 1), "b.yaml")
    return [str(d) for d in raised.value.diagnostics]


def test_the_form_is_built() -> None:
    form = load_blueprint_text(BASE, "b.yaml").public_form("contact")
    assert form == PublicForm(
        name="contact",
        object="lead",
        fields=("company", "email", "notes"),
        label=Label("Contact us", "联系我们"),
        thanks=Label("Thanks", "谢谢"),
        set=(FieldValue("source", "web"),),
    )
    assert form.rate_limit == 10
    assert form.frame_ancestors == ()
    assert form.written == ("company", "email", "notes", "source")
    assert (form.position.line, form.position.column) == (19, 3)  # type: ignore[union-attr]


CASES = [
    pytest.param(
        "object: lead\n    fields: [company",
        "object: laed\n    fields: [company",
        ["b.yaml:20:13: public form 'contact' is on unknown object 'laed'; did you mean 'lead'?"],
        id="unknown_object",
    ),
    pytest.param(
        "fields: [company, email, notes]",
        "fields: [company, emial, notes]",
        ["b.yaml:21:23: public form 'contact' names unknown field 'emial'; did you mean 'email'?"],
        id="unknown_field",
    ),
    pytest.param(
        "fields: [company, email, notes]",
        "fields: [company, email, score, account]",
        [
            "b.yaml:21:30: public form 'contact' asks for field 'score', which is formula: a visitor "
            "cannot fill it in (ask for text, number, date, choice or boolean fields)",
            "b.yaml:21:37: public form 'contact' asks for field 'account', which is lookup: a visitor "
            "cannot fill it in (ask for text, number, date, choice or boolean fields)",
        ],
        id="not_askable",
    ),
    pytest.param(
        "fields: [company, email, notes]",
        "fields: [email, notes]",
        [
            "b.yaml:21:13: public form 'contact' leaves required field 'company' of 'lead' empty: "
            "add it to fields, set it, or give the field a default"
        ],
        id="required_missing",
    ),
    pytest.param(
        "set: {source: web}",
        "set: {source: website}",
        [
            "b.yaml:24:19: public form 'contact' sets 'source' to 'website', which is not one of its "
            "choices; did you mean 'web'?"
        ],
        id="set_bad_choice",
    ),
    pytest.param(
        "set: {source: web}",
        "set: {source: web, sorce: x}",
        ["b.yaml:24:24: public form 'contact' sets unknown field 'sorce'; did you mean 'source'?"],
        id="set_unknown_field",
    ),
    pytest.param(
        "set: {source: web}",
        "set: {source: web, email: a@b.cn}",
        [
            "b.yaml:24:24: public form 'contact' both asks for and sets field 'email': a visitor's "
            "value would be overwritten"
        ],
        id="set_and_asked",
    ),
    pytest.param(
        "set: {source: web}",
        "set: {source: web}\n    redirect: http://example.com/thanks",
        [
            "b.yaml:25:15: redirect of public form 'contact' must be an https:// address, got "
            "'http://example.com/thanks'"
        ],
        id="redirect_http",
    ),
    pytest.param(
        "set: {source: web}",
        "set: {source: web}\n"
        "    frame_ancestors: ['https://www.example.com', \"https://a.cn; script-src *\"]",
        [
            "b.yaml:25:50: frame_ancestors of public form 'contact': 'https://a.cn; script-src *' is "
            "not an origin (https://host, https://host:port, https://*.host or 'self')"
        ],
        id="frame_ancestor_injection",
    ),
    pytest.param(
        "  contact:\n",
        "  Contact:\n",
        [
            "b.yaml:19:3: public form name 'Contact' is not valid: use lower-case letters, digits and "
            "'_', starting with a letter, at most 63 characters"
        ],
        id="bad_name",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_broken_public_forms(old: str, new: str, expected: list[str]) -> None:
    assert errors_of(old, new) == expected


def test_a_rate_limit_below_one_is_a_schema_error() -> None:
    errors = errors_of("set: {source: web}", "set: {source: web}\n    rate_limit: 0")
    assert len(errors) == 1 and errors[0].startswith("b.yaml:25:17: ")


def round_trip(text: str) -> None:
    original = load_blueprint_text(text, "b.yaml")
    loaded = load_blueprint_text(dump_blueprint(original), "dumped.yaml")
    assert dataclasses.replace(loaded, sources=original.sources) == original


def test_every_key_round_trips() -> None:
    round_trip(
        BASE.replace(
            "set: {source: web}",
            "set: {source: web}\n    intro: Tell us\n    redirect: https://example.com/thanks\n"
            "    frame_ancestors: [\"'self'\", 'https://www.example.com']\n    rate_limit: 3",
        )
    )


def test_the_shipped_contact_form() -> None:
    blueprint = load_blueprint(ROOT / "blueprints" / "b2b_sales.yaml")
    form = blueprint.public_form("contact_us")
    assert form.object == "lead"
    assert "region" in form.fields and "company" in form.fields
    assert form.set == (FieldValue("source", "web"),)
    assert form.label.zh and form.intro.zh and form.thanks.zh
    round_trip((ROOT / "blueprints" / "b2b_sales.yaml").read_text(encoding="utf-8"))
