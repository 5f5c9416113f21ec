"""Field types, positions, labels and fields: the smallest pieces of a blueprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

#: Columns every object table carries; blueprint fields may not use these names.
SYSTEM_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "owner_id",
    "version",
    "deleted_at",
    "touched_at",
)

#: Object names that would collide with platform tables, routes or concepts.
RESERVED_OBJECT_NAMES: frozenset[str] = frozenset(
    {
        "user",
        "users",
        "team",
        "teams",
        "role",
        "roles",
        "session",
        "sessions",
        "token",
        "tokens",
        "api",
        "static",
        "login",
        "logout",
        "admin",
        "record",
        "records",
        "history",
    }
)


class FieldType(StrEnum):
    """The field types a blueprint may declare."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    PERCENT = "percent"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    LOOKUP = "lookup"
    USER = "user"
    STAGE = "stage"
    AUTO_NUMBER = "auto_number"
    FORMULA = "formula"

    @property
    def is_numeric(self) -> bool:
        return self in NUMERIC_TYPES

    @property
    def is_textual(self) -> bool:
        return self in TEXTUAL_TYPES

    @property
    def is_temporal(self) -> bool:
        return self in (FieldType.DATE, FieldType.DATETIME)


NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.PERCENT})
TEXTUAL_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.LONG_TEXT,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.CHOICE,
        FieldType.STAGE,
        FieldType.AUTO_NUMBER,
    }
)
#: Types a formula may produce.
FORMULA_RESULT_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.MONEY,
        FieldType.PERCENT,
        FieldType.BOOLEAN,
        FieldType.DATE,
    }
)


class FilterOp(StrEnum):
    """Comparison operators shared by list views, the record service and the API."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    CONTAINS = "contains"
    #: Text without the value (empty text included); multi_choice with none of the choices.
    NOT_CONTAINS = "not_contains"
    #: ``true``: no value (NULL, empty text, no choice); ``false``: any value.
    EMPTY = "empty"
    #: Any of several text fields (``Condition("name|email", SEARCH, "acme")``) contains the value.
    SEARCH = "search"


@dataclass(frozen=True)
class Position:
    """Where a node stands in its YAML file; lines and columns count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Label:
    """A bilingual label; either language may be missing."""

    en: str | None = None
    zh: str | None = None

    def get(self, language: str, fallback: str = "") -> str:
        """The label in ``language`` ("en" or "zh"), else the other one, else ``fallback``."""
        first, second = (self.zh, self.en) if language.startswith("zh") else (self.en, self.zh)
        return first or second or fallback


@dataclass(frozen=True)
class Choice:
    """One allowed value of a choice or multi_choice field."""

    name: str
    label: Label = Label()
    color: str | None = None


@dataclass(frozen=True)
class Field:
    """One field of an object, with its constraints."""

    name: str
    type: FieldType
    label: Label = Label()
    required: bool = False
    unique: bool = False
    indexed: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = None
    pattern: str | None = None
    #: Typed default: str, int, bool, Decimal, tuple of str, or the markers "today" / "now".
    default: Any = None
    choices: tuple[Choice, ...] = ()
    #: Target object of a lookup.
    to: str | None = None
    #: Expression of a formula field.
    formula: str | None = None
    #: Type of a formula's result.
    returns: FieldType | None = None
    #: Decimal places of decimal, money and percent fields.
    scale: int | None = None
    #: Prefix and width of an auto_number ("Q-" and 6 give "Q-000001").
    prefix: str = ""
    digits: int = 6
    help: Label = Label()
    position: Position | None = field(default=None, compare=False)

    @property
    def value_type(self) -> FieldType:
        """The type of the stored value (a formula's result type, else the field's type)."""
        if self.type is FieldType.FORMULA:
            return self.returns or FieldType.DECIMAL
        return self.type

    @property
    def is_computed(self) -> bool:
        """Values the platform sets, never the caller."""
        return self.type in (FieldType.FORMULA, FieldType.AUTO_NUMBER)

    @cached_property
    def choice_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.choices)

    def label_for(self, language: str) -> str:
        return self.label.get(language, self.name.replace("_", " ").capitalize())
