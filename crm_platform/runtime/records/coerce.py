"""Per-type coercion and validation of incoming values, and JSON-safe forms of stored ones.

Values arrive as strings from forms and query strings or as JSON scalars from
the API; :func:`coerce_value` turns them into the Python value a column
stores (``Decimal`` for numbers, ``date``, aware UTC ``datetime``, ``list`` for
multi_choice, ``int`` ids) or raises :class:`FieldError` with a message meant
for the person who typed the value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from crm_platform.metadata.model import Field, FieldType
from crm_platform.metadata.suggest import did_you_mean

_TRUE = frozenset({"true", "1", "yes", "y", "on", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "f"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{4,30}$")
_DEFAULT_SCALE = {FieldType.DECIMAL: 4, FieldType.MONEY: 2, FieldType.PERCENT: 2}
#: Numeric(20, scale) columns hold 20 digits in all.
_PRECISION = 20
_SINGLE_LINE = frozenset(
    {FieldType.TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL, FieldType.CHOICE, FieldType.STAGE}
)


class FieldError(ValueError):
    """A value does not fit its field; ``str(error)`` is the message for the user."""


def scale_of(field: Field) -> int:
    """Decimal places of a decimal, money or percent field."""
    return field.scale if field.scale is not None else _DEFAULT_SCALE.get(field.value_type, 4)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _show(raw: Any) -> str:
    text = repr(raw) if isinstance(raw, str) else str(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_value(
    field: Field,
    raw: Any,
    *,
    choices: Sequence[str] | None = None,
    validate: bool = True,
    round_scale: bool = False,
) -> Any:
    """``raw`` as the Python value ``field`` stores, or ``None`` for an empty value.

    ``choices`` overrides the allowed names (a stage field passes its object's
    stages). With ``validate=False`` only the type is converted (filters may
    compare with values outside min/max). ``round_scale`` rounds numbers to the
    field's scale instead of refusing extra decimals (used for formula results).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip() and field.type is not FieldType.LONG_TEXT):
        return None
    kind = field.value_type
    value = _CONVERTERS[kind](field, raw, choices, round_scale)
    if validate and value is not None:
        _check_constraints(field, value)
    return value


def _text(field: Field, raw: Any, _choices: Any, _round: bool) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise FieldError(f"expected text, got {_show(raw)}")
    text = str(raw)
    return text.strip() if field.value_type in _SINGLE_LINE else text


def _integer(_field: Field, raw: Any, _choices: Any, _round: bool) -> int:
    if isinstance(raw, bool):
        raise FieldError(f"expected a whole number, got {_show(raw)}")
    if isinstance(raw, int):
        return raw
    try:
        number = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except (InvalidOperation, TypeError, ValueError):
        raise FieldError(f"expected a whole number, got {_show(raw)}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise FieldError(f"expected a whole number, got {_show(raw)}")
    value = int(number)
    if abs(value) >= 2**63:
        raise FieldError("is too large")
    return value


def _decimal(field: Field, raw: Any, _choices: Any, round_scale: bool) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise FieldError(f"expected a number, got {_show(raw)}")
    try:
        # str() of a float gives its shortest repr: 0.1 becomes Decimal("0.1"), not 0.1000000000000000055
        number = Decimal(raw.strip().replace(",", "") if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        raise FieldError(f"expected a number, got {_show(raw)}") from None
    if not number.is_finite():
        raise FieldError(f"expected a number, got {_show(raw)}")
    scale = scale_of(field)
    quantum = Decimal(1).scaleb(-scale)
    # Checked first: quantizing a huge number would overflow the decimal context.
    if abs(number) >= Decimal(10) ** (_PRECISION - scale):
        raise FieldError("is too large")
    if round_scale:
        number = number.quantize(quantum, rounding=ROUND_HALF_UP)
    elif number != number.quantize(quantum, rounding=ROUND_HALF_UP):
        raise FieldError(f"has more than {scale} decimal places")
    # Stored values come back at the column's scale; giving them that scale now keeps
    # the history's "new" value equal to what a later read shows ("2000.00", not "2000").
    return number.quantize(quantum)


def _boolean(_field: Field, raw: Any, _choices: Any, _round: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise FieldError(f"expected yes or no (true/false), got {_show(raw)}")


def _date(_field: Field, raw: Any, _choices: Any, _round: bool) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise FieldError(f"expected a date (YYYY-MM-DD), got a date and time {_show(raw)}")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise FieldError(f"expected a date (YYYY-MM-DD), got {_show(raw)}")


def to_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _datetime(_field: Field, raw: Any, _choices: Any, _round: bool) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return to_utc(raw)
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day, tzinfo=dt.UTC)
    if isinstance(raw, str):
        try:
            return to_utc(dt.datetime.fromisoformat(raw.strip()))
        except ValueError:
            pass
    raise FieldError(f"expected a date and time (YYYY-MM-DDTHH:MM[:SS][+00:00]), got {_show(raw)}")


def _email(field: Field, raw: Any, choices: Any, round_scale: bool) -> str:
    text = _text(field, raw, choices, round_scale)
    if not _EMAIL.match(text):
        raise FieldError(f"{_show(text)} is not an e-mail address")
    return text


def _phone(field: Field, raw: Any, choices: Any, round_scale: bool) -> str:
    text = _text(field, raw, choices, round_scale)
    # A blueprint's own pattern replaces the default format check.
    if field.pattern is None and (not _PHONE.match(text) or sum(c.isdigit() for c in text) < 4):
        raise FieldError(f"{_show(text)} is not a phone number")
    return text


def _url(field: Field, raw: Any, choices: Any, round_scale: bool) -> str:
    text = _text(field, raw, choices, round_scale)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise FieldError(f"{_show(text)} is not a web address (http:// or https://)")
    return text


def _choice(field: Field, raw: Any, choices: Sequence[str] | None, round_scale: bool) -> str:
    text = _text(field, raw, choices, round_scale)
    allowed = field.choice_names if choices is None else choices
    if text not in allowed:
        what = "stage" if field.value_type is FieldType.STAGE else "choice"
        hint = did_you_mean(text, allowed) or f"; choose from {', '.join(allowed)}"
        raise FieldError(f"{_show(text)} is not a {what}{hint}")
    return text


def _multi_choice(field: Field, raw: Any, choices: Sequence[str] | None, round_scale: bool) -> list[str]:
    if isinstance(raw, str):
        items: list[Any] = [part for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list | tuple | set | frozenset):
        items = list(raw)
    else:
        raise FieldError(f"expected a list of choices, got {_show(raw)}")
    allowed = field.choice_names if choices is None else tuple(choices)
    picked = {_choice(field, item, allowed, round_scale) for item in items}
    # Declaration order makes the stored list canonical: ["a", "b"] and ["b", "a"] are no change.
    return [name for name in allowed if name in picked]


def _reference(field: Field, raw: Any, choices: Any, round_scale: bool) -> int:
    target = field.to or "user"
    message = f"expected the id of {'an' if target[0] in 'aeiou' else 'a'} {target}, got {_show(raw)}"
    try:
        value = _integer(field, raw, choices, round_scale)
    except FieldError:
        raise FieldError(message) from None
    if value <= 0:
        raise FieldError(message)
    return value


_CONVERTERS: dict[FieldType, Callable[[Field, Any, Any, bool], Any]] = {
    FieldType.TEXT: _text,
    FieldType.LONG_TEXT: _text,
    FieldType.AUTO_NUMBER: _text,
    FieldType.INTEGER: _integer,
    FieldType.DECIMAL: _decimal,
    FieldType.MONEY: _decimal,
    FieldType.PERCENT: _decimal,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.EMAIL: _email,
    FieldType.PHONE: _phone,
    FieldType.URL: _url,
    FieldType.CHOICE: _choice,
    FieldType.STAGE: _choice,
    FieldType.MULTI_CHOICE: _multi_choice,
    FieldType.LOOKUP: _reference,
    FieldType.USER: _reference,
}


def _check_constraints(field: Field, value: Any) -> None:
    if isinstance(value, str):
        if field.max_length is not None and len(value) > field.max_length:
            raise FieldError(f"must be at most {field.max_length} characters (got {len(value)})")
        if field.pattern is not None and not _compiled(field.pattern).search(value):
            raise FieldError(f"{_show(value)} does not match the pattern {field.pattern}")
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        if field.min is not None and value < field.min:
            raise FieldError(f"must be at least {field.min}")
        if field.max is not None and value > field.max:
            raise FieldError(f"must be at most {field.max}")


def json_safe(value: Any) -> Any:
    """``value`` as JSON can hold it: Decimal and dates become strings, tuples lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    return value
