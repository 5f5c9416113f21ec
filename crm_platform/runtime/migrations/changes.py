"""The vocabulary of a migration: changes, refusals and the plan that lists them.

``str()`` of each is what ``crm migrate --plan`` prints: one line per change, with
``+`` for what is added, ``-`` for what is dropped, ``~`` for a type change and
``=`` for what is kept, hidden, because it left the blueprint.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from crm_platform.metadata.model import Blueprint
from crm_platform.runtime.migrations.diff import FieldSpec


class ChangeKind(enum.StrEnum):
    """What one step of a migration does."""

    CREATE_TABLE = "create_table"
    ADD_COLUMN = "add_column"
    RESTORE_COLUMN = "restore_column"  # a kept (hidden) column whose field is back
    ALTER_TYPE = "alter_type"
    KEEP_COLUMN = "keep_column"  # field left the blueprint; column stays, hidden
    DROP_COLUMN = "drop_column"
    ADD_INDEX = "add_index"
    DROP_INDEX = "drop_index"
    KEEP_TABLE = "keep_table"
    RESTORE_TABLE = "restore_table"  # a kept table whose object is back
    DROP_TABLE = "drop_table"
    SYNC_ROLES = "sync_roles"
    #: An object's ``duplicates:`` changed: its rows of the duplicate index are rebuilt.
    REBUILD_MATCH_KEYS = "rebuild_match_keys"

    @property
    def phase(self) -> int:
        """When this kind of change is applied: tables, then columns, indexes, roles."""
        return _PHASE[self]


#: Order in which kinds are applied (stable within a kind).
_PHASE = {
    ChangeKind.CREATE_TABLE: 0,
    ChangeKind.RESTORE_TABLE: 0,
    ChangeKind.DROP_INDEX: 1,
    ChangeKind.ADD_COLUMN: 2,
    ChangeKind.RESTORE_COLUMN: 2,
    ChangeKind.ALTER_TYPE: 2,
    ChangeKind.KEEP_COLUMN: 2,
    ChangeKind.DROP_COLUMN: 2,
    ChangeKind.ADD_INDEX: 3,
    ChangeKind.KEEP_TABLE: 4,
    ChangeKind.DROP_TABLE: 4,
    ChangeKind.SYNC_ROLES: 5,
    ChangeKind.REBUILD_MATCH_KEYS: 6,
}


#: Sign and verb of each kind's line: + adds, - drops, ~ changes, = keeps as it is.
_WORDING = {
    ChangeKind.CREATE_TABLE: ("+", "create table"),
    ChangeKind.RESTORE_TABLE: ("+", "restore table"),
    ChangeKind.ADD_COLUMN: ("+", "add column"),
    ChangeKind.RESTORE_COLUMN: ("+", "restore column"),
    ChangeKind.ALTER_TYPE: ("~", "change"),
    ChangeKind.KEEP_COLUMN: ("=", "keep column"),
    ChangeKind.DROP_COLUMN: ("-", "drop column"),
    ChangeKind.ADD_INDEX: ("+", "add index"),
    ChangeKind.DROP_INDEX: ("-", "drop index"),
    ChangeKind.KEEP_TABLE: ("=", "keep table"),
    ChangeKind.DROP_TABLE: ("-", "drop table"),
    ChangeKind.REBUILD_MATCH_KEYS: ("~", "rebuild duplicate keys of"),
}


@dataclass(frozen=True)
class Change:
    """One step of a migration; ``str()`` gives the line ``crm migrate --plan`` prints."""

    kind: ChangeKind
    table: str
    column: str | None = None
    #: What the line says after the target: a type, a reason, a count.
    detail: str = ""
    #: True when the step destroys values (only with allow_data_loss).
    destructive: bool = False
    #: Index name (ADD_INDEX / DROP_INDEX).
    index: str | None = None
    #: Old and new field of ALTER_TYPE / RESTORE_COLUMN.
    old: FieldSpec | None = None
    new: FieldSpec | None = None
    #: Non-null values that would not convert and are set to empty (ALTER_TYPE).
    lost: int = 0
    #: Roles to insert (SYNC_ROLES).
    roles: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """``table.column``, or the table alone."""
        return f"{self.table}.{self.column}" if self.column else self.table

    def __str__(self) -> str:
        if self.kind is ChangeKind.SYNC_ROLES:
            return f"+ add roles {', '.join(self.roles)}"
        sign, verb = _WORDING[self.kind]
        what = self.target
        if self.index:
            what = f"{self.index} on {self.target}"
        elif self.kind is ChangeKind.ALTER_TYPE:
            what = f"{self.target} from {self.old} to {self.new}"
        return f"{sign} {verb} {what}{self._suffix()}"

    def _suffix(self) -> str:
        if not self.detail:
            return ""
        k = ChangeKind
        if self.kind in (k.CREATE_TABLE, k.ADD_COLUMN, k.ADD_INDEX) or (
            self.kind is k.ALTER_TYPE and not self.lost
        ):
            return f" ({self.detail})"
        return f": {self.detail}"

    def same_step(self, other: Change) -> bool:
        """Whether ``other`` does the same thing (counts in the wording may differ)."""
        return self._step() == other._step()

    def _step(self) -> tuple[object, ...]:
        return (self.kind, self.table, self.column, self.index, self.old, self.new, self.roles, self.lost > 0)


@dataclass(frozen=True)
class Refusal:
    """A change the migration will not make; ``field`` is ``object.field`` (or the table)."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class MigrationPlan:
    """Everything a migration would do, in order, and what it refuses to do."""

    blueprint_name: str
    version: int
    from_version: int | None
    changes: tuple[Change, ...]
    refusals: tuple[Refusal, ...]
    allow_data_loss: bool = False
    #: The snapshot recorded when the plan is applied.
    snapshot: str = field(default="", repr=False)
    blueprint: Blueprint | None = field(default=None, repr=False, compare=False)

    @property
    def is_empty(self) -> bool:
        """Nothing to change and the version is already recorded."""
        return not self.changes and not self.refusals and self.from_version == self.version

    @property
    def destructive(self) -> bool:
        """Whether applying the plan destroys any value."""
        return any(change.destructive for change in self.changes)

    def __str__(self) -> str:
        if self.from_version is None:
            head = f"Migration plan for {self.blueprint_name} version {self.version} (new database)"
        elif self.from_version == self.version:
            head = f"Migration plan for {self.blueprint_name} version {self.version}"
        else:
            head = f"Migration plan for {self.blueprint_name}: version {self.from_version} -> {self.version}"
        lines = [head]
        if self.is_empty:
            lines.append("  nothing to do: the database matches the blueprint")
        elif not self.changes and not self.refusals:
            lines.append("  no schema change; only the version is recorded")
        lines.extend(f"  {change}" for change in self.changes)
        if self.refusals:
            lines.append("Refused (nothing is changed until these are resolved):")
            lines.extend(f"  ! {refusal}" for refusal in self.refusals)
        elif self.destructive:
            lines.append(
                "Warning: this plan destroys data (the lines above that say 'lost' or 'set to empty')."
            )
        return "\n".join(lines)


class MigrationError(Exception):
    """A migration could not be applied."""


class MigrationRefused(MigrationError):
    """The plan has refusals; nothing was changed."""

    def __init__(self, refusals: tuple[Refusal, ...]) -> None:
        self.refusals = refusals
        lines = ["migration refused; nothing was changed:"]
        lines.extend(f"  {refusal}" for refusal in refusals)
        super().__init__("\n".join(lines))
