"""Tables of sign-in: server-side sessions, login attempts (rate limiting) and API tokens, and
the posts to public forms (their rate limit).

Neither a session id nor an API token is stored: only its SHA-256, so a copy of
the database does not let anyone sign in.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp

SESSIONS = "crm_sessions"
LOGIN_ATTEMPTS = "crm_login_attempts"
API_TOKENS = "crm_api_tokens"
#: Posts to public forms, per client address (their rate limit).
FORM_POSTS = "crm_form_posts"
_USERS_ID = "crm_users.id"


def auth_tables(metadata: sa.MetaData) -> None:
    """Define the sign-in tables in ``metadata``."""
    sa.Table(
        SESSIONS,
        metadata,
        # SHA-256 (hex) of the random token in the cookie.
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey(_USERS_ID, ondelete="CASCADE"), nullable=False),
        # The role at sign-in: a session whose user changed role since is ended.
        sa.Column("role", sa.String(64)),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("last_seen_at", timestamp(), nullable=False),
        # The absolute end, whatever the activity.
        sa.Column("expires_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", SESSIONS, "user_id"), "user_id"),
    )
    sa.Table(
        LOGIN_ATTEMPTS,
        metadata,
        id_column(),
        sa.Column("address", sa.String(64), nullable=False),
        # Lower-cased as typed; may name no user at all.
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("attempted_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", LOGIN_ATTEMPTS, "address", "attempted_at"), "address", "attempted_at"),
        sa.Index(
            constraint_name("ix", LOGIN_ATTEMPTS, "address", "email", "attempted_at"),
            "address",
            "email",
            "attempted_at",
        ),
    )
    sa.Table(
        FORM_POSTS,
        metadata,
        id_column(),
        sa.Column("form", sa.String(63), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("posted_at", timestamp(), nullable=False),
        sa.Index(
            constraint_name("ix", FORM_POSTS, "form", "address", "posted_at"), "form", "address", "posted_at"
        ),
    )
    sa.Table(
        API_TOKENS,
        metadata,
        id_column(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey(_USERS_ID, ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("last_used_at", timestamp()),
        sa.Column("revoked_at", timestamp()),
        sa.Index(constraint_name("ux", API_TOKENS, "token_hash"), "token_hash", unique=True),
        sa.Index(constraint_name("ix", API_TOKENS, "user_id"), "user_id"),
    )
