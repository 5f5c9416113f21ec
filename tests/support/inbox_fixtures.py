"""A web app on the shipped b2b_sales blueprint with one opportunity under contract review.

The org chart: rep Rita reports to manager Max; Fiona is finance; Pete is another
rep (no part in the request). Rita's opportunity is in negotiation and its
``contract_review`` request is pending at step 1 (manager); amounts above
500,000 also need step 2 (finance).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from crm_platform.metadata import load_blueprint
from crm_platform.resources import blueprints_dir
from crm_platform.runtime.actors import SYSTEM, Actor
from crm_platform.runtime.people.users import User
from tests.support.web_fixtures import WebApp, make_web_app

QUOTE_TASK = "Prepare and send the quote"


def b2b_web(engine: Engine) -> WebApp:
    """The app on ``blueprints/b2b_sales.yaml``."""
    return make_web_app(engine, load_blueprint(blueprints_dir() / "b2b_sales.yaml"))


@dataclass
class Review:
    """The people, the opportunity and its pending request."""

    web: WebApp
    rep: User
    manager: User
    finance: User
    peer: User
    opportunity: dict[str, Any]
    request_id: int

    def record(self) -> dict[str, Any]:
        return self.web.services.records.get("opportunity", self.opportunity["id"], actor=SYSTEM)

    def status(self) -> str:
        return self.web.services.approvals.get(self.request_id).status.value


def person(web: WebApp, email: str, name: str, role: str, manager: User | None = None) -> User:
    """A user with a display name (and a manager)."""
    user = web.add_user(email, role=role)
    web.set_user(user.id, name=name, manager_id=manager.id if manager else None)
    found = web.services.users.get(user.id)
    assert found is not None
    return found


def contract_review(web: WebApp, *, amount: int = 800_000) -> Review:
    """Rita's opportunity of ``amount`` in negotiation with ``contract_review`` pending at step 1."""
    manager = person(web, "max@example.com", "Max Manager", "sales_manager")
    rep = person(web, "rita@example.com", "Rita Rep", "sales_rep", manager)
    finance = person(web, "fiona@example.com", "Fiona Finance", "finance")
    peer = person(web, "pete@example.com", "Pete Peer", "sales_rep", manager)
    records, inbox = web.services.records, web.services.inbox
    account = records.create("account", {"name": "Acme Ltd", "owner_id": rep.id}, actor=SYSTEM)
    values = {
        "name": "Acme rollout",
        "account": account["id"],
        "amount": Decimal(amount),
        "stage": "proposal",
        "owner_id": rep.id,
    }
    opportunity = records.create("opportunity", values, actor=SYSTEM)
    quote = inbox.create_task(
        QUOTE_TASK, assignee_id=rep.id, object="opportunity", record_id=opportunity["id"]
    )
    inbox.complete_task(quote, user_id=rep.id)
    opportunity = records.update(
        "opportunity",
        opportunity["id"],
        {"stage": "negotiation"},
        version=opportunity["version"],
        actor=SYSTEM,
    )
    request_id = web.services.approvals.start(
        "contract_review", "opportunity", opportunity["id"], actor=Actor(rep.id, role="sales_rep")
    )
    return Review(web, rep, manager, finance, peer, opportunity, request_id)
