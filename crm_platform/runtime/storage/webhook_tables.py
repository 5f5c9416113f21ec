"""Tables of outgoing webhooks: each endpoint's state and every delivery attempt.

``crm_webhook_endpoints`` keeps what the blueprint cannot: that an endpoint was
disabled (its receiver answered 410 Gone) and why. ``crm_webhook_attempts`` logs each
HTTP attempt of an outbox delivery (status code, response time, error), for the
admin screen; the outbox row itself keeps only the latest outcome.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp

WEBHOOK_ENDPOINTS = "crm_webhook_endpoints"
WEBHOOK_ATTEMPTS = "crm_webhook_attempts"


def webhook_tables(metadata: sa.MetaData) -> None:
    """Define the webhook endpoint and attempt tables in ``metadata``."""
    sa.Table(
        WEBHOOK_ENDPOINTS,
        metadata,
        # The webhook's name in the blueprint.
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("disabled_at", timestamp()),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("updated_at", timestamp(), nullable=False),
    )
    sa.Table(
        WEBHOOK_ATTEMPTS,
        metadata,
        id_column(),
        sa.Column(
            "delivery_id", sa.BigInteger, sa.ForeignKey("crm_outbox.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("webhook", sa.String(64), nullable=False),
        sa.Column("started_at", timestamp(), nullable=False),
        # The address connected to (after the SSRF guard checked it); None when refused first.
        sa.Column("address", sa.String(64)),
        sa.Column("status_code", sa.Integer),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Index(constraint_name("ix", WEBHOOK_ATTEMPTS, "delivery_id"), "delivery_id", "id"),
        sa.Index(constraint_name("ix", WEBHOOK_ATTEMPTS, "webhook"), "webhook", "id"),
    )
