"""SQLAlchemy Core tables built from the metadata, plus the platform's own tables.

Every name that reaches SQL comes from a validated identifier
(``^[a-z][a-z0-9_]{0,62}$``) and goes through SQLAlchemy, which quotes it;
nothing here pastes names into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, Field, FieldType, ObjectDef
from crm_platform.runtime.storage.approval_tables import APPROVAL_REQUESTS, approval_tables
from crm_platform.runtime.storage.auth_tables import auth_tables
from crm_platform.runtime.storage.idempotency_tables import IDEMPOTENCY_KEYS, idempotency_tables
from crm_platform.runtime.storage.import_tables import import_tables
from crm_platform.runtime.storage.naming import constraint_name, id_column, timestamp
from crm_platform.runtime.storage.process_tables import sales_tables
from crm_platform.runtime.storage.types import JSONType, column_type
from crm_platform.runtime.storage.view_tables import views_tables
from crm_platform.runtime.storage.webhook_tables import webhook_tables

USERS = "crm_users"
TEAMS = "crm_teams"
ROLES = "crm_roles"
FIELD_HISTORY = "crm_field_history"
SCHEMA_VERSIONS = "crm_schema_versions"
SEQUENCES = "crm_sequences"
NOTIFICATIONS = "crm_notifications"
TASKS = "crm_tasks"
OUTBOX = "crm_outbox"
RULE_FIRINGS = "crm_rule_firings"


def _platform_tables(metadata: sa.MetaData) -> None:
    sa.Table(
        TEAMS,
        metadata,
        id_column(),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text),
        sa.Column("created_at", timestamp(), nullable=False),
    )
    sa.Table(
        ROLES,
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("label", sa.Text),
    )
    sa.Table(
        USERS,
        metadata,
        id_column(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text),
        sa.Column("role", sa.String(64), sa.ForeignKey(f"{ROLES}.name"), nullable=True),
        sa.Column("manager_id", sa.BigInteger, sa.ForeignKey(f"{USERS}.id"), nullable=True),
        sa.Column("team_id", sa.BigInteger, sa.ForeignKey(f"{TEAMS}.id"), nullable=True),
        sa.Column("language", sa.String(8), nullable=False, server_default="en"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ux", USERS, "email"), "email", unique=True),
        sa.Index(constraint_name("ix", USERS, "manager_id"), "manager_id"),
        sa.Index(constraint_name("ix", USERS, "team_id"), "team_id"),
    )
    sa.Table(
        FIELD_HISTORY,
        metadata,
        id_column(),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        # create, update, delete or restore
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("field", sa.String(64)),
        sa.Column("old_value", JSONType),
        sa.Column("new_value", JSONType),
        sa.Column("changed_by", sa.BigInteger, sa.ForeignKey(f"{USERS}.id")),
        sa.Column("changed_at", timestamp(), nullable=False),
        # Where the change came from when not a screen or the API ("import"); NULL otherwise.
        sa.Column("channel", sa.String(16)),
        sa.Index(constraint_name("ix", FIELD_HISTORY, "object", "record_id"), "object", "record_id", "id"),
    )
    sa.Table(
        SCHEMA_VERSIONS,
        metadata,
        id_column(),
        sa.Column("blueprint", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        # JSON: what the next migration compares with (per object, per field: type,
        # value type, lookup target, unique, indexed, scale; plus columns kept hidden).
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("applied_at", timestamp(), nullable=False),
    )
    sa.Table(
        SEQUENCES,
        metadata,
        sa.Column("name", sa.String(140), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def _work_tables(metadata: sa.MetaData) -> None:
    """Notifications, tasks, the outbox and rule firings."""
    sa.Table(
        NOTIFICATIONS,
        metadata,
        id_column(),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey(f"{USERS}.id"), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("object", sa.String(64)),
        sa.Column("record_id", sa.BigInteger),
        # The rule that sent it, so the inbox can say "by rule: idle 3 days".
        sa.Column("rule", sa.String(200)),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("read_at", timestamp()),
        sa.Index(constraint_name("ix", NOTIFICATIONS, "user_id", "read_at"), "user_id", "read_at"),
    )
    sa.Table(
        TASKS,
        metadata,
        id_column(),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("object", sa.String(64)),
        sa.Column("record_id", sa.BigInteger),
        sa.Column("assignee_id", sa.BigInteger, sa.ForeignKey(f"{USERS}.id")),
        sa.Column("due_at", timestamp()),
        sa.Column("done_at", timestamp()),
        sa.Column("done_by", sa.BigInteger, sa.ForeignKey(f"{USERS}.id")),
        sa.Column("rule", sa.String(200)),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey(f"{USERS}.id")),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Index(constraint_name("ix", TASKS, "assignee_id", "done_at"), "assignee_id", "done_at"),
        sa.Index(constraint_name("ix", TASKS, "object", "record_id"), "object", "record_id"),
    )
    sa.Table(
        OUTBOX,
        metadata,
        id_column(),
        # email or webhook
        sa.Column("kind", sa.String(16), nullable=False),
        # An e-mail address or a webhook name.
        sa.Column("target", sa.Text, nullable=False),
        # Where a webhook goes, fixed when it is enqueued (a later blueprint change does
        # not redirect deliveries already promised).
        sa.Column("url", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("payload", JSONType, nullable=False),
        # Stays the same across retries, so receivers can drop duplicates.
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(200)),
        sa.Column("object", sa.String(64)),
        sa.Column("record_id", sa.BigInteger),
        # pending, delivered, dead (gave up after the last retry) or skipped (cannot be
        # sent here, e.g. no SMTP server configured; last_error says why)
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", timestamp(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", timestamp()),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("delivered_at", timestamp()),
        sa.Index(constraint_name("ux", OUTBOX, "idempotency_key"), "idempotency_key", unique=True),
        sa.Index(constraint_name("ix", OUTBOX, "status", "next_attempt_at"), "status", "next_attempt_at"),
    )
    sa.Table(
        RULE_FIRINGS,
        metadata,
        id_column(),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        # What makes a firing unique in time: the idle clock's start, the date a
        # "3 days after" counts from, or the day of a schedule.
        sa.Column("episode", sa.String(64), nullable=False),
        sa.Column("fired_at", timestamp(), nullable=False),
        # Set when the rule's actions failed on this record (they were rolled back).
        sa.Column("error", sa.Text),
        sa.Index(
            constraint_name("ux", RULE_FIRINGS, "key"), "rule", "object", "record_id", "episode", unique=True
        ),
    )


def field_column(obj: ObjectDef, field: Field) -> sa.Column:
    """A fresh column for ``field`` of ``obj`` (not attached to any table)."""
    args: list[sa.SchemaItem] = []
    if field.type is FieldType.LOOKUP:
        # use_alter: lookups may form cycles (account.primary_contact <-> contact.account).
        # PostgreSQL then adds and drops these constraints with ALTER; SQLite, which has
        # no ALTER for constraints, keeps them inline, and drop_all does not warn.
        args.append(
            sa.ForeignKey(f"{field.to}.id", name=constraint_name("fk", obj.name, field.name), use_alter=True)
        )
    elif field.type is FieldType.USER:
        args.append(sa.ForeignKey(f"{USERS}.id", name=constraint_name("fk", obj.name, field.name)))
    # Columns stay nullable in the database: "required" is enforced by the record
    # service, so adding a required field to a filled table never fails.
    return sa.Column(field.name, column_type(field), *args, nullable=True)


def needs_index(field: Field) -> bool:
    """Whether ``field`` gets a (non-unique) index of its own."""
    return not field.unique and (
        field.indexed or field.type in (FieldType.LOOKUP, FieldType.USER, FieldType.STAGE)
    )


def object_indexes(obj: ObjectDef, table: sa.Table) -> list[sa.Index]:
    """Indexes of an object table: indexed, lookup, user, stage, owner; unique ones partial."""
    indexes = [
        sa.Index(constraint_name("ix", obj.name, "owner_id"), table.c.owner_id),
        sa.Index(constraint_name("ix", obj.name, "updated_at"), table.c.updated_at),
        sa.Index(constraint_name("ix", obj.name, "touched_at"), table.c.touched_at),
    ]
    for field in obj.fields:
        if field.unique:
            # Soft-deleted rows do not hold on to their unique values.
            live = table.c.deleted_at.is_(None)
            indexes.append(
                sa.Index(
                    constraint_name("ux", obj.name, field.name),
                    table.c[field.name],
                    unique=True,
                    sqlite_where=live,
                    postgresql_where=live,
                )
            )
        elif needs_index(field):
            indexes.append(sa.Index(constraint_name("ix", obj.name, field.name), table.c[field.name]))
    return indexes


def object_table(metadata: sa.MetaData, obj: ObjectDef) -> sa.Table:
    """Define the table of ``obj`` in ``metadata``."""
    table = sa.Table(
        obj.name,
        metadata,
        id_column(),
        sa.Column("created_at", timestamp(), nullable=False),
        sa.Column("updated_at", timestamp(), nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey(f"{USERS}.id"), nullable=True),
        sa.Column("owner_id", sa.BigInteger, sa.ForeignKey(f"{USERS}.id"), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("deleted_at", timestamp(), nullable=True),
        # The later of the last edit and the last follow-up: the clock of "idle" rules.
        sa.Column("touched_at", timestamp(), nullable=True),
        *(field_column(obj, field) for field in obj.fields),
    )
    object_indexes(obj, table)  # Index objects bound to columns attach to their table
    return table


@dataclass(frozen=True)
class Tables:
    """The SQLAlchemy tables of one blueprint: objects by name plus platform tables."""

    metadata: sa.MetaData

    def object(self, name: str) -> sa.Table:
        return self.metadata.tables[name]

    @property
    def users(self) -> sa.Table:
        return self.metadata.tables[USERS]

    @property
    def teams(self) -> sa.Table:
        return self.metadata.tables[TEAMS]

    @property
    def roles(self) -> sa.Table:
        return self.metadata.tables[ROLES]

    @property
    def field_history(self) -> sa.Table:
        return self.metadata.tables[FIELD_HISTORY]

    @property
    def schema_versions(self) -> sa.Table:
        return self.metadata.tables[SCHEMA_VERSIONS]

    @property
    def sequences(self) -> sa.Table:
        return self.metadata.tables[SEQUENCES]

    @property
    def notifications(self) -> sa.Table:
        return self.metadata.tables[NOTIFICATIONS]

    @property
    def tasks(self) -> sa.Table:
        return self.metadata.tables[TASKS]

    @property
    def outbox(self) -> sa.Table:
        return self.metadata.tables[OUTBOX]

    @property
    def rule_firings(self) -> sa.Table:
        return self.metadata.tables[RULE_FIRINGS]

    @property
    def approval_requests(self) -> sa.Table:
        return self.metadata.tables[APPROVAL_REQUESTS]

    @property
    def idempotency_keys(self) -> sa.Table:
        return self.metadata.tables[IDEMPOTENCY_KEYS]


def build_tables(blueprint: Blueprint) -> Tables:
    """All tables ``blueprint`` needs, in a fresh :class:`sqlalchemy.MetaData`."""
    metadata = sa.MetaData()
    _platform_tables(metadata)
    _work_tables(metadata)
    sales_tables(metadata)
    approval_tables(metadata)
    auth_tables(metadata)
    idempotency_tables(metadata)
    views_tables(metadata)
    webhook_tables(metadata)
    import_tables(metadata)
    for obj in blueprint.objects:
        object_table(metadata, obj)
    return Tables(metadata)
