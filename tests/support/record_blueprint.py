"""A small sales blueprint built in Python for the record-service tests.

account, contact and opportunity cover every field type the service handles:
text with max_length, unique email, phone, url, choice, multi_choice, lookup,
user, stage with stages, date defaulting to today, money with min, percent
with a default, a formula and an auto number.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_platform.metadata.model import Blueprint, Choice, Field, FieldType, ObjectDef, Stage
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.service import RecordService
from crm_platform.runtime.storage.tables import build_tables

T = FieldType
#: The fixed "now" of the tests' clock.
NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)


def _choices(*names: str) -> tuple[Choice, ...]:
    return tuple(Choice(name) for name in names)


ACCOUNT = ObjectDef(
    name="account",
    title="name",
    fields=(
        Field("name", T.TEXT, required=True, max_length=100),
        Field("website", T.URL),
        Field("phone", T.PHONE),
        Field("tier", T.CHOICE, choices=_choices("high_value", "potential", "dormant"), default="potential"),
        Field("tags", T.MULTI_CHOICE, choices=_choices("hot", "follow_up", "vip")),
        Field("employees", T.INTEGER, min=Decimal(1)),
        Field("is_key", T.BOOLEAN, default=False),
    ),
)

CONTACT = ObjectDef(
    name="contact",
    title="name",
    fields=(
        Field("name", T.TEXT, required=True),
        Field("email", T.EMAIL, unique=True),
        Field("account", T.LOOKUP, to="account"),
        Field("code", T.TEXT, pattern=r"^[A-Z]{2}[0-9]{3}$"),
        Field("last_seen", T.DATETIME),
    ),
)

OPPORTUNITY = ObjectDef(
    name="opportunity",
    title="name",
    fields=(
        Field("name", T.TEXT, required=True, max_length=200),
        Field("account", T.LOOKUP, to="account", required=True),
        Field("amount", T.MONEY, min=Decimal(0), indexed=True),
        Field("discount", T.PERCENT, min=Decimal(0), max=Decimal(100), default=Decimal(0)),
        Field("close_date", T.DATE, default="today"),
        Field("stage", T.STAGE),
        Field("tags", T.MULTI_CHOICE, choices=_choices("hot", "follow_up", "strategic")),
        Field("reviewer", T.USER),
        Field("number", T.AUTO_NUMBER, prefix="OPP-", digits=6),
        Field("net_amount", T.FORMULA, formula="amount * (100 - discount) / 100", returns=T.MONEY),
        Field("per_employee", T.FORMULA, formula="net_amount / seats", returns=T.DECIMAL),
        Field("seats", T.INTEGER),
    ),
    stages=(
        Stage("initial_contact", probability=10),
        Stage("needs_analysis", probability=30),
        Stage("proposal", probability=50),
        Stage("negotiation", probability=75),
        Stage("won", probability=100),
        Stage("lost", probability=0),
    ),
)

SALES = Blueprint(name="sales", version=1, objects=(ACCOUNT, CONTACT, OPPORTUNITY))


def add_user(engine: Engine | sa.Connection, email: str, *, active: bool = True) -> int:
    """Insert a user straight into crm_users; returns its id."""
    users = build_tables(SALES).users
    statement = users.insert().values(email=email, name=email.split("@")[0], is_active=active, created_at=NOW)
    if isinstance(engine, sa.Connection):
        return int(engine.execute(statement).inserted_primary_key[0])
    with engine.begin() as connection:
        return int(connection.execute(statement).inserted_primary_key[0])


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def make_service(engine: Engine, clock: Clock | None = None, **options: object) -> RecordService:
    """Create the tables of :data:`SALES` and a service on them."""
    tables = build_tables(SALES)
    tables.metadata.create_all(engine)
    return RecordService(SALES, engine, tables, clock=clock or Clock(), **options)  # type: ignore[arg-type]


def actor_for(user_id: int | None, *, admin: bool = False) -> Actor:
    return Actor(user_id=user_id, is_admin=admin)
