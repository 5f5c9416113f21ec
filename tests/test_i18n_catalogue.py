"""Every UI string the screens can show has a Chinese translation.

The messages are extracted with Babel exactly as ``pybabel extract -F babel.cfg`` would
(templates through Jinja2's extractor, the web layer's Python through Babel's own), and each
one is looked up in the merged Chinese catalogue the screens use at run time. A missing one
would show English in the middle of a Chinese page.
"""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from crm_platform.runtime.web.i18n import catalogues
from tests.support.paths import ROOT

ROOT = ROOT


def _messages() -> dict[str | tuple[str, ...], list[str]]:
    """Each message id (a tuple for ``ngettext``) and where it is used (``file:line``)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str | tuple[str, ...], list[str]] = {}
    # Babel's default directory filter skips hidden folders (.venv, .git) and __pycache__.
    for filename, line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        found.setdefault(message, []).append(f"{filename}:{line}")
    return found


def _translated(message: str | tuple[str, ...]) -> bool:
    # The compiled catalogue maps msgid -> text and (msgid, n) -> each plural form; an untranslated
    # message is absent. Comparing gettext()'s answer with the msgid would wrongly fail a message
    # whose Chinese is spelt the same ("CRM").
    table: dict[object, str] = catalogues()["zh"]._catalog  # type: ignore[attr-defined]
    if isinstance(message, tuple):
        return bool(table.get((message[0], 0)))
    return bool(table.get(message))


def test_the_extraction_finds_the_frames_own_strings() -> None:
    # Guards the test below against a mapping that silently extracts nothing.
    messages = _messages()
    assert "Sign out" in messages
    assert ("%(num)d new notification", "%(num)d new notifications") in messages


def test_every_ui_message_has_a_chinese_translation() -> None:
    missing = {message: places for message, places in _messages().items() if not _translated(message)}
    listing = "\n".join(
        f"  {message!r}  ({', '.join(sorted(places)[:3])})"
        for message, places in sorted(missing.items(), key=str)
    )
    assert not missing, f"{len(missing)} UI message(s) without a Chinese translation:\n{listing}"
