"""The ``webhooks:`` section: url, secret_env, events, enabled; precise errors; a faithful round trip."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from crm_platform.metadata import BlueprintError, dump_blueprint, load_blueprint_text
from crm_platform.metadata.model import Webhook

HEADER = """\
blueprint: shop
version: 1
objects:
  order:
    title: number
    fields:
      number: {type: text}
  contract:
    title: number
    fields:
      number: {type: text}
webhooks:
"""
#: The first line of a case is line 13 of the file.
FIRST = HEADER.count("\n") + 1


def errors_of(case: str) -> list[str]:
    with pytest.raises(BlueprintError) as raised:
        load_blueprint_text(HEADER + textwrap.indent(textwrap.dedent(case), "  "), "b.yaml")
    return [str(d) for d in raised.value.diagnostics]


def test_a_declared_endpoint_is_read_into_the_model() -> None:
    blueprint = load_blueprint_text(
        HEADER
        + "  erp:\n"
        + '    url: "https://erp.example.com/hooks"\n'
        + "    secret_env: CRM_ERP_SECRET\n"
        + "    events: [contract.created, contract.updated, order.*]\n"
        + "  old: {url: 'https://old.example.com/', enabled: false}\n",
        "b.yaml",
    )
    erp, old = blueprint.webhooks
    assert (erp.url, erp.secret_env, erp.events, erp.enabled) == (
        "https://erp.example.com/hooks",
        "CRM_ERP_SECRET",
        ("contract.created", "contract.updated", "order.*"),
        True,
    )
    assert erp.sends("order", "deleted") and erp.sends("contract", "updated")
    assert not erp.sends("contract", "deleted")
    assert (old.secret_env, old.events, old.enabled) == (None, (), False)
    assert not Webhook("w", "https://x.example/", events=("order.*",), enabled=False).sends(
        "order", "created"
    )


def test_the_round_trip_keeps_every_key() -> None:
    text = (
        HEADER
        + "  erp: {url: 'https://erp.example.com/h', secret_env: CRM_ERP_SECRET,\n"
        + "        events: [order.*], enabled: false}\n"
        + "  plain: {url: 'https://plain.example.com/h'}\n"
    )
    original = load_blueprint_text(text, "b.yaml")
    dumped = dump_blueprint(original)
    assert (
        "erp: {url: 'https://erp.example.com/h', secret_env: CRM_ERP_SECRET, "
        "events: [order.*], enabled: false}" in dumped
    )
    loaded = load_blueprint_text(dumped, "dumped.yaml")
    assert dataclasses.replace(loaded, sources=original.sources) == original


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            """\
              erp:
                url: "https://erp.example.com/h"
                secret_env: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
            """,
            [
                f"b.yaml:{FIRST + 2}:17: secret_env of webhook 'erp' must be the NAME of an environment "
                "variable (e.g. CRM_ERP_SECRET) holding the whsec_... secret, never the secret itself: "
                "remove the secret from the blueprint and set it in the worker's environment"
            ],
            id="secret_in_yaml",
        ),
        pytest.param(
            """\
              erp: {url: "https://erp.example.com/h", secret_env: crm_erp_secret}
            """,
            [
                f"b.yaml:{FIRST}:55: secret_env 'crm_erp_secret' of webhook 'erp' is not an environment "
                "variable name: use upper-case letters, digits and underscores (e.g. CRM_ERP_SECRET)"
            ],
            id="secret_env_lower_case",
        ),
        pytest.param(
            """\
              erp:
                url: "https://erp.example.com/h"
                secret: whsec_abc
            """,
            [f"b.yaml:{FIRST + 2}:5: unknown key 'secret' in webhook 'erp'; did you mean 'secret_env'?"],
            id="secret_key",
        ),
        pytest.param(
            """\
              erp:
                url: "https://erp.example.com/h"
                events: [contrct.created, order.closed, order, order.*, order.*]
            """,
            [
                f"b.yaml:{FIRST + 2}:14: event 'contrct.created' of webhook 'erp' names unknown object "
                "'contrct'; did you mean 'contract'?",
                f"b.yaml:{FIRST + 2}:31: event 'order.closed' of webhook 'erp' has unknown action 'closed' "
                "(expected created, updated, deleted or *)",
                f"b.yaml:{FIRST + 2}:45: event 'order' of webhook 'erp' must be OBJECT.ACTION, "
                "e.g. order.created (actions: created, updated, deleted, *)",
                f"b.yaml:{FIRST + 2}:61: event 'order.*' is listed twice for webhook 'erp'",
            ],
            id="events",
        ),
        pytest.param(
            """\
              erp: {url: "https://erp.example.com/h", events: order.created, enabled: "yes"}
            """,
            [
                f"b.yaml:{FIRST}:51: expected a list, got 'order.created'",
                f"b.yaml:{FIRST}:75: expected true or false, got 'yes'",
            ],
            id="shapes",
        ),
    ],
)
def test_webhook_errors_are_pinned(case: str, expected: list[str]) -> None:
    assert errors_of(case) == expected
