"""Composition: an extending blueprint merged onto the one it extends.

Merging happens on the parsed documents, before schema validation, so an
extending file may refine a field by naming only what changes
(``amount: {label: Net amount}``). Every merged node keeps the position it has
in the file it came from, so later errors still point into the right file.
The rules are those of docs/blueprint-format.md, "Composition".
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import Diagnostic
from .model import Position
from .yamlpos import Path, YamlDocument

#: Top-level sections whose entries are added, or replaced whole when named again.
_NAMED_SECTIONS = ("approvals", "templates", "webhooks", "assignments", "conversions", "public_forms")
#: Parts of an object whose entries are added, or replaced whole per name. Everything else of an
#: object (stages, duplicates, pool, card, the *_field roles) is replaced as a whole.
_OBJECT_MAPS = ("forms", "list_views", "actions", "rollups")


def merge_documents(base: YamlDocument, top: YamlDocument) -> tuple[YamlDocument, list[Diagnostic]]:
    """``top`` applied onto ``base``; conflicts (a field's type or lookup target changing) are reported."""
    merger = _Merger(base, top)
    if isinstance(base.data, dict) and isinstance(top.data, dict):
        merger.merge()
    else:
        # One of them is not a mapping at all: the schema will say so about the extending file.
        merger.result = _copy_document(top)
    return merger.result, merger.diagnostics


def _copy_document(document: YamlDocument) -> YamlDocument:
    return YamlDocument(
        filename=document.filename,
        data=copy.deepcopy(document.data),
        nodes=dict(document.nodes),
        keys=dict(document.keys),
        texts=dict(document.texts),
    )


def _under(path: Path, prefix: Path) -> bool:
    return path[: len(prefix)] == prefix


class _Merger:
    def __init__(self, base: YamlDocument, top: YamlDocument) -> None:
        self.base = base
        self.top = top
        self.result = _copy_document(base)
        self.result.filename = top.filename
        self.diagnostics: list[Diagnostic] = []

    # -- moving values with their positions ------------------------------------------------------
    def drop(self, path: Path) -> None:
        """Forget the positions of ``path`` and everything under it (not its key)."""
        for table in (self.result.nodes, self.result.keys, self.result.texts):
            for key in [k for k in table if _under(k, path) and (k != path or table is not self.result.keys)]:
                del table[key]

    def graft(self, source: YamlDocument, source_path: Path, path: Path, *, with_key: bool = True) -> Any:
        """Copy the positions of ``source_path`` in ``source`` to ``path``; return its value."""
        self.drop(path)
        size = len(source_path)
        for table, target in (
            (source.nodes, self.result.nodes),
            (source.keys, self.result.keys),
            (source.texts, self.result.texts),
        ):
            for key, position in table.items():
                if _under(key, source_path) and (key != source_path or with_key or table is not source.keys):
                    target[path + key[size:]] = position
        value: Any = source.data
        for part in source_path:
            value = value[part]
        return copy.deepcopy(value)

    def set(self, path: Path, source_path: Path | None = None) -> None:
        """``result[path] = top[source_path or path]``, positions included."""
        value = self.graft(self.top, source_path or path, path)
        parent: Any = self.result.data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value

    # -- the merge -------------------------------------------------------------------------------
    def merge(self) -> None:
        data = self.result.data
        top = self.top.data
        for key in ("blueprint", "version", "extends"):
            # The extending file's own, even when it leaves one out (the schema then says so).
            data.pop(key, None)
            self.drop((key,))
            self.result.keys.pop((key,), None)
        for key, value in top.items():
            if key == "roles":
                self.roles(value)
            elif key == "objects" and isinstance(value, dict) and isinstance(data.get("objects"), dict):
                for name, spec in value.items():
                    self.object(name, spec)
            elif key in _NAMED_SECTIONS and isinstance(value, dict) and isinstance(data.get(key), dict):
                for name in value:
                    self.set((key, name))
            elif key == "permissions" and isinstance(value, dict) and isinstance(data.get(key), dict):
                self.permissions(value)
            elif key == "rules" and isinstance(value, list) and isinstance(data.get("rules"), list):
                self.rules(value)
            else:
                self.set((key,))
        # Keep the extending file's key order for its own keys (blueprint first, as written).
        order = list(top) + [k for k in data if k not in top]
        self.result.data = {k: data[k] for k in order if k in data}

    def roles(self, value: Any) -> None:
        base = self.result.data.get("roles")
        if not isinstance(base, list | dict) or not isinstance(value, list | dict):
            self.set(("roles",))
            return
        if isinstance(base, list) and isinstance(value, list):
            # Lists are re-indexed: graft each role from the file it came from.
            items = [(self.base, i, r) for i, r in enumerate(base)]
            items += [(self.top, i, r) for i, r in enumerate(value) if r not in base]
            self.drop(("roles",))
            self.result.nodes[("roles",)] = self.top.node(("roles",))
            for index, (source, source_index, _) in enumerate(items):
                self.graft(source, ("roles", source_index), ("roles", index))
            self.result.data["roles"] = [r for _, _, r in items]
            return
        merged: dict[str, Any] = {}
        for source, roles in ((self.base, base), (self.top, value)):
            for index, role in enumerate(roles):
                name = role
                merged[name] = roles[role] if isinstance(roles, dict) else None
                source_path = ("roles", index) if isinstance(roles, list) else ("roles", role)
                self.graft(source, source_path, ("roles", name))
                if isinstance(roles, list):
                    self.result.keys[("roles", name)] = source.node(source_path)
        self.result.nodes[("roles",)] = self.top.node(("roles",))
        self.result.data["roles"] = merged

    def permissions(self, value: dict[str, Any]) -> None:
        """A role named again replaces its grant per object named; other objects' grants stay."""
        base = self.result.data["permissions"]
        for role, grants in value.items():
            if isinstance(grants, dict) and isinstance(base.get(role), dict):
                for obj in grants:
                    self.set(("permissions", role, obj))
            else:
                self.set(("permissions", role))

    def object(self, name: str, spec: Any) -> None:
        objects = self.result.data["objects"]
        path: Path = ("objects", name)
        base = objects.get(name)
        if not isinstance(base, dict) or not isinstance(spec, dict):
            self.set(path)
            return
        for key, value in spec.items():
            if key == "fields" and isinstance(value, dict) and isinstance(base.get("fields"), dict):
                for field_name, field_spec in value.items():
                    self.field(name, field_name, field_spec)
            elif key in _OBJECT_MAPS and isinstance(value, dict) and isinstance(base.get(key), dict):
                for item in value:
                    self.set((*path, key, item))
            else:
                self.set((*path, key))

    def field(self, obj: str, name: str, spec: Any) -> None:
        path: Path = ("objects", obj, "fields", name)
        base = self.result.data["objects"][obj]["fields"].get(name)
        if not isinstance(base, dict) or not isinstance(spec, dict):
            self.set(path)
            return
        defined = self.result.keys.get(path)
        for key in spec:
            if key in ("type", "to") and key in base and spec[key] != base[key]:
                self.conflict(obj, name, key, base[key], spec[key], (*path, key), defined)
                continue
            self.set((*path, key))

    def conflict(
        self, obj: str, name: str, key: str, old: Any, new: Any, path: Path, defined: Position | None
    ) -> None:
        where = f" (defined at {defined})" if defined else ""
        if key == "type":
            message = (
                f"field '{name}' of '{obj}' changes type from {old} to {new}; "
                f"a field's type cannot change in an extending blueprint{where}"
            )
        else:
            message = (
                f"lookup '{name}' of '{obj}' changes its target from {old} to {new}; "
                f"a lookup's target cannot change in an extending blueprint{where}"
            )
        self.diagnostics.append(Diagnostic(self.top.node(path), message))

    def rules(self, value: list[Any]) -> None:
        def rule_name(rule: Any) -> str | None:
            return rule.get("name") if isinstance(rule, dict) and isinstance(rule.get("name"), str) else None

        items: list[tuple[YamlDocument, int, Any]] = [
            (self.base, i, r) for i, r in enumerate(self.result.data["rules"])
        ]
        for index, rule in enumerate(value):
            name = rule_name(rule)
            replaced = next((n for n, item in enumerate(items) if name and rule_name(item[2]) == name), None)
            if replaced is None:
                items.append((self.top, index, rule))
            else:
                items[replaced] = (self.top, index, rule)
        self.drop(("rules",))
        self.result.nodes[("rules",)] = self.top.node(("rules",))
        for index, (source, source_index, _) in enumerate(items):
            self.graft(source, ("rules", source_index), ("rules", index))
        self.result.data["rules"] = [copy.deepcopy(rule) for _, _, rule in items]
