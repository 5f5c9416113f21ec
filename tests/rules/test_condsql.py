"""A condition translated to SQL selects exactly the records Python's evaluation accepts."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.expressions import ExpressionError, parse_expression
from crm_platform.rules.condsql import split_condition
from tests.support.time_world import World

CONDITIONS = [
    'stage != "won"',
    'not (stage == "won")',
    'stage == "proposal" or stage == "negotiation"',
    'stage in ["proposal", "negotiation"]',
    'stage not in ["won", "lost"]',
    "stage in [None, 'won']",
    "amount > 1000 and probability >= 50",
    "not (amount > 1000)",
    "amount / 4 >= 250",
    "amount * 2 - 100 > 1900 or probability == 0",
    "coalesce(amount, 0) < 500",
    "coalesce(probability, amount, 0) >= 50",
    'lower(name) == "big deal"',
    'upper(next_step) == "CALL"',
    "close_date < today()",
    "close_date >= today() and stage != None",
    "next_step is None",
    "amount == -5 or amount != 1000",
    "amount != probability",
    "not (probability == amount)",
]
VALUES = [
    {
        "name": "Big deal",
        "amount": "1000",
        "probability": "50",
        "stage": "proposal",
        "close_date": "2024-04-01",
    },
    {"name": "BIG DEAL", "amount": "5000", "probability": "75", "stage": "negotiation", "next_step": "call"},
    {"name": "Small", "amount": "10", "probability": "0", "stage": "won", "close_date": "2024-06-01"},
    {"name": "Empty", "stage": "lost"},
    {"name": "No stage yet", "amount": "999.99", "close_date": "2024-05-01", "next_step": "Call"},
]


def _python_ids(text: str, records: list[dict[str, object]], today: dt.date) -> list[int]:
    expression = parse_expression(text)
    ids = []
    for record in records:
        try:
            if expression.evaluate(record, today=today):
                ids.append(int(record["id"]))  # type: ignore[call-overload]
        except ExpressionError:
            continue  # an evaluation that fails does not fire the rule
    return ids


@pytest.fixture
def world(engine: Engine) -> World:
    return World.build(engine)


def test_sql_selects_what_python_accepts(world: World) -> None:
    account = world.account()
    # Stages are written straight to the table: this test is about conditions, and entering a
    # stage through the service would need its entry criteria (tasks, fields) met first.
    stages = [values.get("stage") for values in VALUES]
    records = [
        world.opportunity(
            **{"account_id": account["id"], **{k: v for k, v in values.items() if k != "stage"}}
        )
        for values in VALUES
    ]
    table = world.tables.object("opportunity")
    with world.engine.begin() as connection:
        for record, stage in zip(records, stages, strict=True):
            if stage is not None:
                connection.execute(table.update().where(table.c.id == record["id"]).values(stage=stage))
        # The stage field defaults to the first stage: make one record have none, for the None cases.
        connection.execute(table.update().where(table.c.id == records[-1]["id"]).values(stage=None))
    records = [{**r, "stage": stage or r["stage"]} for r, stage in zip(records, stages, strict=True)]
    records[-1] = {**records[-1], "stage": None}

    obj = world.blueprint.object("opportunity")
    differences = {}
    for text in CONDITIONS:
        split = split_condition(parse_expression(text), obj, table, world.clock.now)
        assert split.python is None, f"{text!r} should translate to SQL entirely"
        with world.engine.connect() as connection:
            query = sa.select(table.c.id).where(split.sql).order_by(table.c.id)
            selected = list(connection.execute(query).scalars())
        expected = _python_ids(text, records, world.clock.now.date())
        if selected != expected:
            differences[text] = (selected, expected)
    assert differences == {}


def test_what_sql_cannot_say_is_left_to_python(world: World) -> None:
    table = world.tables.object("opportunity")
    text = 'stage == "won" and "Big" in name and amount / probability > 2 and name < "M"'
    split = split_condition(
        parse_expression(text), world.blueprint.object("opportunity"), table, world.clock.now
    )
    assert split.sql_text == ("stage == 'won'",)
    assert split.python_text == ("'Big' in name", "amount / probability > 2", "name < 'M'")
