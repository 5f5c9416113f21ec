"""Reading HTML answers in tests: a parsed page and CSS selectors (BeautifulSoup + soupsieve)."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup, Tag


def page(response: Any) -> BeautifulSoup:
    """The parsed HTML of ``response`` (anything with ``.text``)."""
    return BeautifulSoup(response.text, "html.parser")


def texts(soup: BeautifulSoup | Tag, selector: str) -> list[str]:
    """The whitespace-normalised text of every element matching ``selector``."""
    return [" ".join(node.get_text(" ").split()) for node in soup.select(selector)]


def one(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    """The single element matching ``selector``; fails the test when there are none or several."""
    found = soup.select(selector)
    assert len(found) == 1, f"expected one element matching {selector!r}, found {len(found)}"
    return found[0]
