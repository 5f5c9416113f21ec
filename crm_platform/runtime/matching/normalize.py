"""Normalisers of declared duplicate keys: the value two records must share to look alike.

One function per :class:`~crm_platform.metadata.model.MatchKind`:

- ``exact``: trimmed, case-folded (``" AB-12 "`` and ``"ab-12"`` are one value);
- ``email``: trimmed, lower-cased;
- ``phone``: digits only. With the key's ``country`` (ISO code such as ``CN``), a number
  written internationally in that country (``+86 138 0013 8000``, ``0086 ...``) and one
  written nationally (``138 0013 8000``, or ``010 5555 0101`` with its trunk ``0``) give
  the same national digits; a number of another country keeps ``+`` and its code
  (``+44 20 7946 0958`` -> ``+442079460958``), so it never collides with a national one;
- ``company_name``: NFKC-folded, case-folded, punctuation and spaces removed, and legal
  suffixes of several locales dropped (有限公司, Co., Ltd., GmbH, S.A., 株式会社 ...), so
  ``"ACME Co., Ltd."`` and ``"Acme"`` are one company.

Example::

    normalize(MatchKind.PHONE, "+86 138-0013-8000", country="CN")  # "13800138000"
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from crm_platform.metadata.model import MatchKind

#: Longest normalised value kept (the index column's width).
MAX_LENGTH = 320

#: ISO country -> (calling code, trunk prefix dialled before national numbers, "" for none).
COUNTRY_CODES: dict[str, tuple[str, str]] = {
    "CN": ("86", "0"),
    "US": ("1", "1"),
    "CA": ("1", "1"),
    "GB": ("44", "0"),
    "DE": ("49", "0"),
    "FR": ("33", "0"),
    "JP": ("81", "0"),
    "SG": ("65", ""),
    "HK": ("852", ""),
    "TW": ("886", "0"),
    "AU": ("61", "0"),
    "IN": ("91", "0"),
}

#: Legal-form suffixes per locale, as they read after punctuation became spaces and case was
#: folded; longer forms first, so "股份有限公司" goes before "公司" and "co ltd" before "ltd".
#: Kept as locale data (one form a line), not as names the code looks for.
_SUFFIX_DATA = {
    "zh": """
        股份有限公司
        有限责任公司
        有限公司
        集团
        公司
    """,
    "ja": """
        株式会社
        有限会社
        合同会社
        kk
    """,
    "en": """
        pte ltd
        pty ltd
        co ltd
        co limited
        company limited
        limited
        ltd
        incorporated
        inc
        corporation
        corp
        llc
        plc
        company
        co
    """,
    "de": """
        gmbh co kg
        gmbh
        ag
        kg
    """,
    "fr": """
        s a r l
        sarl
        s a s
        sas
        s a
        sa
    """,
}
LEGAL_SUFFIXES: tuple[str, ...] = tuple(
    line.strip() for block in _SUFFIX_DATA.values() for line in block.splitlines() if line.strip()
)
#: Legal forms written before the name as well (株式会社トヨタ).
LEGAL_PREFIXES: tuple[str, ...] = ("株式会社", "有限会社", "合同会社")

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_exact(value: str) -> str:
    """``" AB-12 "`` -> ``"ab-12"``: trimmed and case-folded, nothing else."""
    return value.strip().casefold()


def normalize_email(value: str) -> str:
    """``" Ana@Example.COM "`` -> ``"ana@example.com"``."""
    return value.strip().lower()


def normalize_phone(value: str, country: str | None = None) -> str:
    """The digits of a phone number, national when it belongs to ``country`` (see the module doc)."""
    text = value.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    international = text.startswith("+")
    if not international and digits.startswith("00"):
        # 00 is the international prefix of most countries (China, Europe, India ...).
        international, digits = True, digits[2:]
    code, trunk = COUNTRY_CODES.get((country or "").upper(), ("", ""))
    if international:
        if not code or not digits.startswith(code):
            return "+" + digits if digits else ""
        digits = digits[len(code) :]
        # "+44 (0)20 ..." writes the trunk prefix inside the international form.
        if trunk == "0" and digits.startswith("0"):
            digits = digits[1:]
        return digits
    if trunk and digits.startswith(trunk) and len(digits) > 1:
        digits = digits[len(trunk) :]
    return digits


def normalize_company(value: str) -> str:
    """``"ACME Co., Ltd."``, ``"Acme 有限公司"`` and ``"株式会社 ACME"`` -> ``"acme"``."""
    words = _NON_WORD.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()
    changed = True
    while changed and words:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            if words.endswith(suffix) and len(words) > len(suffix):
                before = words[: -len(suffix)]
                # A Latin suffix must be a whole word ("inc", not the end of "zinc").
                if suffix.isascii() and not before.endswith(" "):
                    continue
                words, changed = before.strip(), True
                break
        for prefix in LEGAL_PREFIXES:
            if words.startswith(prefix) and len(words) > len(prefix):
                words, changed = words[len(prefix) :].strip(), True
    return words.replace(" ", "")


def normalize(match: MatchKind, value: Any, *, country: str | None = None) -> str | None:
    """The normalised key of ``value`` under ``match``; ``None`` for an empty value."""
    if value is None or isinstance(value, bool | list | dict):
        return None
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        return None
    if match is MatchKind.EMAIL:
        key = normalize_email(text)
    elif match is MatchKind.PHONE:
        key = normalize_phone(text, country)
    elif match is MatchKind.COMPANY_NAME:
        key = normalize_company(text)
    else:
        key = normalize_exact(text)
    return key[:MAX_LENGTH] or None
