"""Checking what the schema did not reject, so one run reports every error of a file.

A schema error (an unknown field type at the top of a file) must not hide a
semantic error elsewhere (an unknown lookup target 250 lines further down).
:func:`prune` copies the document without the smallest named parts the schema
rejected (a field, a form, a stage list, an approval, a rule, a roll-up ...);
the rest is schema-valid, so it is built and checked as usual. The parts left
out are remembered in :class:`Broken`, and a reference to one of them is not
reported again as unknown: the schema error already explains it.

An unknown key is simply dropped (nothing can refer to it). When the error
sits where nothing can be left out (``blueprint``, ``version``, the
``objects`` mapping itself), :func:`prune` gives up and only the schema errors
are reported.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .yamlpos import Path, YamlDocument

#: Top-level sections whose entries can be left out one by one (or the whole section).
_NAMED_SECTIONS = frozenset(
    {"approvals", "templates", "webhooks", "assignments", "conversions", "public_forms"}
)
#: Optional top-level sections left out whole when they are not even the right shape.
_OPTIONAL = _NAMED_SECTIONS | {"rules", "permissions", "roles", "label"}
#: Parts of an object left out per entry.
_OBJECT_MAPS = frozenset({"fields", "forms", "list_views", "actions", "rollups"})
#: Keys an object cannot do without: an error there leaves the whole object out.
_OBJECT_REQUIRED = frozenset({"title", "fields"})
_SECTION_OF_KIND = {"template": "templates", "webhook": "webhooks", "assignment table": "assignments"}
_UNKNOWN = re.compile(
    r"(?:unknown|undeclared) (field|object|stage|approval|role|template|webhook|assignment table) '([^']*)'"
)


@dataclass(frozen=True)
class Spot:
    """Where the schema found a problem: ``unknown_key`` when it is a key that should not be there."""

    path: Path
    unknown_key: bool = False


@dataclass(frozen=True)
class Broken:
    """The parts of a blueprint left out because the schema rejected them."""

    paths: frozenset[Path] = frozenset()

    def object(self, name: str) -> bool:
        return ("objects", name) in self.paths

    def field(self, obj: str, name: str) -> bool:
        """Whether ``obj.name`` may be a field (or roll-up) that was left out."""
        return (
            self.object(obj)
            or ("objects", obj, "fields", name) in self.paths
            or ("objects", obj, "rollups", name) in self.paths
        )

    def any_field(self, obj: str) -> bool:
        return self.object(obj) or any(p[:3] == ("objects", obj, "fields") for p in self.paths)

    def part(self, obj: str, key: str) -> bool:
        """Whether ``key`` of object ``obj`` (``stages``, ``duplicates`` ...) was left out."""
        return self.object(obj) or ("objects", obj, key) in self.paths

    def entry(self, section: str, name: str) -> bool:
        """Whether entry ``name`` of a top-level section (``approvals`` ...) was left out."""
        return (section,) in self.paths or (section, name) in self.paths

    def explains(self, message: str) -> bool:
        """Whether ``message`` is about a name that is unknown only because its part was left out."""
        for kind, name in _UNKNOWN.findall(message):
            if kind == "field" and name in self._names(("fields", "rollups")):
                return True
            if kind == "object" and self.object(name):
                return True
            if kind == "stage" and any(len(p) == 2 or p[2:3] == ("stages",) for p in self._objects()):
                return True
            if kind == "approval" and self.entry("approvals", name):
                return True
            if kind == "role" and ("roles",) in self.paths:
                return True
            if kind in _SECTION_OF_KIND and self.entry(_SECTION_OF_KIND[kind], name):
                return True
        return False

    def _objects(self) -> Iterable[Path]:
        return (p for p in self.paths if p[:1] == ("objects",))

    def _names(self, kinds: tuple[str, ...]) -> set[str]:
        return {str(p[3]) for p in self._objects() if len(p) == 4 and p[2] in kinds}


def unit_of(path: Path) -> Path | None:
    """The smallest part around ``path`` that can be left out; ``None`` when none can."""
    match path:
        case ("objects", str(obj), str(key), str(name), *_) if key in _OBJECT_MAPS:
            return ("objects", obj, key, name)
        case ("objects", str(obj), str(key), *_) if key not in _OBJECT_REQUIRED:
            return ("objects", obj, key)
        case ("objects", str(obj), *_):
            return ("objects", obj)
        case (str(section), str(name), *_) if section in _NAMED_SECTIONS:
            return (section, name)
        case ("permissions", str(role), str(obj), *_):
            return ("permissions", role, obj)
        case ("rules", int(index), *_):
            return ("rules", index)
        case (str(section), *_) if section in _OPTIONAL:
            return (section,)
    return None


def prune(document: YamlDocument, spots: Iterable[Spot]) -> tuple[YamlDocument | None, Broken]:
    """``document`` without the parts at ``spots``; ``None`` when a spot leaves nothing to check."""
    data = copy.deepcopy(document.data)
    left_out: set[Path] = set()
    for spot in spots:
        unit = spot.path if spot.unknown_key else unit_of(spot.path)
        if unit is None or not isinstance(data, dict):
            return None, Broken()
        _remove(data, unit)
        if not spot.unknown_key:
            left_out.add(unit)
    pruned = YamlDocument(
        filename=document.filename,
        data=data,
        nodes=document.nodes,
        keys=document.keys,
        texts=document.texts,
        diagnostics=document.diagnostics,
    )
    return pruned, Broken(frozenset(left_out))


def _remove(data: object, path: Path) -> None:
    parent = data
    for part in path[:-1]:
        if not _has(parent, part):
            return  # already left out with an enclosing part
        parent = parent[part]  # type: ignore[index]
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and _has(parent, last):
        # Rules keep their places (positions are looked up by index): the builder skips a None.
        parent[int(last)] = None


def _has(parent: object, part: str | int) -> bool:
    if isinstance(parent, dict):
        return part in parent
    return isinstance(parent, list) and isinstance(part, int) and 0 <= part < len(parent)
