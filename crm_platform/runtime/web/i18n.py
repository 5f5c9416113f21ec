"""The screens' own words in English and Chinese, and locale-aware formatting.

The UI's strings are gettext messages (``{{ _("My tasks") }}`` in templates,
``gettext("...")`` in Python); their Chinese translations live in Babel catalogues
``ui/locale/zh/LC_MESSAGES/*.po``. Every ``.po`` file in that folder is merged,
so each screen keeps its own catalogue. Blueprint words (object, field, choice
and stage labels) are not here: they come from the blueprint's own labels.

Example::

    words = catalogues()["zh"]
    words.gettext("My tasks")        # -> "我的任务"
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from crm_platform.resources import ui_dir

#: The languages the screens speak; the first is the default.
LANGUAGES: tuple[str, ...] = ("en", "zh")
#: How each language names itself in the language switch.
LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "zh": "中文"}
#: The ``lang`` attribute of pages in each language.
HTML_LANG: Mapping[str, str] = {"en": "en", "zh": "zh-CN"}


def language_of(value: str | None) -> str:
    """One of :data:`LANGUAGES` for a user's saved language ("zh-CN" -> "zh"); English otherwise."""
    if value and value.lower().startswith("zh"):
        return "zh"
    return "en"


def locale_dir() -> Path:
    """The folder holding ``<lang>/LC_MESSAGES/*.po``."""
    return ui_dir() / "locale"


def _load(language: str) -> NullTranslations:
    folder = locale_dir() / language / "LC_MESSAGES"
    files = sorted(folder.glob("*.po")) if folder.is_dir() else []
    if not files:
        return NullTranslations()
    merged = None
    for path in files:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if message.id and message.string:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(buffer)


@cache
def catalogues() -> dict[str, NullTranslations]:
    """The translations of every language, read once per process."""
    return {language: _load(language) for language in LANGUAGES}


# -- formatting ----------------------------------------------------------------------------------


def format_money(value: Decimal | int | float | None, language: str, *, short: bool = False) -> str:
    """``1,234,567.00``; with ``short`` in Chinese ``123.5万`` (cards and tiles only)."""
    if value is None:
        return ""
    amount = Decimal(value)
    if short:
        if language == "zh" and abs(amount) >= 10_000:
            return f"{amount / 10_000:,.1f}万"
        if language != "zh" and abs(amount) >= 1_000_000:
            return f"{amount / 1_000_000:,.1f}M"
        if language != "zh" and abs(amount) >= 10_000:
            return f"{amount / 1_000:,.0f}k"
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


def format_date(value: dt.date | dt.datetime | None, language: str) -> str:
    """``2025-03-12`` / ``2025年3月12日``; datetimes also give the 24-hour time (UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        day = format_date(value.date(), language)
        return f"{day} {value:%H:%M}"
    if language == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def relative_time(value: dt.datetime | None, now: dt.datetime, language: str) -> str:
    """``3 days ago`` / ``3天前``, ``in 2 hours`` / ``2小时后``, ``just now`` / ``刚刚``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "刚刚" if language == "zh" else "just now"
    units = (
        (86400 * 365, "year", "年"),
        (86400 * 30, "month", "个月"),
        (86400, "day", "天"),
        (3600, "hour", "小时"),
        (60, "minute", "分钟"),
    )
    size, en, zh = next(unit for unit in units if seconds >= unit[0])
    count = int(seconds // size)
    if language == "zh":
        return f"{count}{zh}{'后' if future else '前'}"
    unit = en if count == 1 else en + "s"
    return f"in {count} {unit}" if future else f"{count} {unit} ago"


def label(item: Any, language: str) -> str:
    """The blueprint label of an object, field, choice, stage or form section in ``language``."""
    if item is None:
        return ""
    method = getattr(item, "label_for", None)
    if callable(method):
        return str(method(language))
    text = getattr(item, "label", None)
    fallback = str(getattr(item, "name", "") or "").replace("_", " ").capitalize()
    if text is not None and hasattr(text, "get"):
        return str(text.get(language, fallback))
    return fallback
