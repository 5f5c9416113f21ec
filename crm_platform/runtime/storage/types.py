"""How each field type is stored: the one map from field types to column types."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crm_platform.metadata.model import Field, FieldType

#: JSON on SQLite, JSONB on PostgreSQL (indexable, with containment operators).
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Decimal places when a field gives no scale.
DEFAULT_SCALE = {FieldType.DECIMAL: 4, FieldType.MONEY: 2, FieldType.PERCENT: 2}


def column_type(field: Field) -> sa.types.TypeEngine:
    """The SQLAlchemy type of ``field``'s column."""
    kind = field.value_type
    match kind:
        case FieldType.TEXT | FieldType.URL:
            return sa.Text()
        case FieldType.LONG_TEXT:
            return sa.Text()
        case FieldType.EMAIL:
            return sa.String(320)
        case FieldType.PHONE:
            return sa.String(64)
        case FieldType.CHOICE | FieldType.STAGE:
            return sa.String(64)
        case FieldType.AUTO_NUMBER:
            return sa.String(64)
        case FieldType.INTEGER:
            return sa.BigInteger()
        case FieldType.DECIMAL | FieldType.MONEY | FieldType.PERCENT:
            scale = field.scale if field.scale is not None else DEFAULT_SCALE[kind]
            return sa.Numeric(20, scale, asdecimal=True)
        case FieldType.BOOLEAN:
            return sa.Boolean()
        case FieldType.DATE:
            return sa.Date()
        case FieldType.DATETIME:
            return sa.DateTime(timezone=True)
        case FieldType.MULTI_CHOICE:
            return JSONType
        case FieldType.LOOKUP | FieldType.USER:
            return sa.BigInteger()
    raise AssertionError(f"no column type for {kind}")
