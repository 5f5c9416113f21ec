"""Semantic checks of object ``actions:`` and ``rollups:``, and of the ``map:`` / ``no_copy:`` they
share with conversions (:mod:`.checks_process` builds on these)."""

from __future__ import annotations

from .checks_base import CheckerBase
from .checks_values import kind_of, map_problem
from .model import NUMERIC_TYPES, FieldMap, FieldType, ObjectAction, ObjectDef, Rollup, RollupKind
from .suggest import did_you_mean
from .yamlpos import Path

_T = FieldType
_ORDERED = NUMERIC_TYPES | {_T.DATE, _T.DATETIME}


def _lookups(obj: ObjectDef, to: str) -> list[str]:
    return [f.name for f in obj.fields if f.type is _T.LOOKUP and f.to == to]


class ActionChecks(CheckerBase):
    """Actions, roll-ups, and the field maps of actions and conversions."""

    # -- map and no_copy -------------------------------------------------------------------------
    def field_map(
        self, items: tuple[FieldMap, ...], path: Path, what: str, target: ObjectDef, source: ObjectDef
    ) -> None:
        """``target_field: source_field``: both exist, and the source's value fits the target."""
        for item in items:
            known = True
            if not target.has_field(item.target):
                known = False
                if not self.broken.field(target.name, item.target):
                    self.error(
                        self.doc.key((*path, item.target)),
                        f"map of {what} names unknown field '{item.target}' of '{target.name}'"
                        f"{did_you_mean(item.target, target.field_names)}",
                    )
            if not source.has_field(item.source):
                known = False
                if not self.broken.field(source.name, item.source):
                    self.error(
                        self.doc.node((*path, item.target)),
                        f"map of {what} names unknown field '{item.source}' of '{source.name}'"
                        f"{did_you_mean(item.source, source.field_names)}",
                    )
            if known:
                problem = map_problem(target, target.field(item.target), source, source.field(item.source))
                if problem:
                    self.error(self.doc.node((*path, item.target)), f"map of {what}: {problem}")

    def no_copy(self, names: tuple[str, ...], path: Path, what: str, source: ObjectDef) -> None:
        for i, name in enumerate(names):
            if not source.has_field(name) and not self.broken.field(source.name, name):
                self.error(
                    self.doc.node((*path, i)),
                    f"no_copy of {what} names unknown field '{name}' of '{source.name}'"
                    f"{did_you_mean(name, source.field_names)}",
                )

    # -- actions ---------------------------------------------------------------------------------
    def actions(self, obj: ObjectDef, object_path: Path) -> None:
        for action in obj.actions:
            self.action(obj, action, (*object_path, "actions", action.name))

    def action(self, obj: ObjectDef, action: ObjectAction, path: Path) -> None:
        what = f"action '{action.name}' of '{obj.name}'"
        self.name("action", action.name, self.doc.key(path))
        create_position = self.doc.node((*path, "create"))
        created = self.object_ref(
            action.create, create_position, f"{what} creates unknown object '{action.create}'"
        )
        if created is not None:
            if not _lookups(created, obj.name):
                self.error(
                    create_position, f"{what} creates '{created.name}', which has no lookup to '{obj.name}'"
                )
            self.field_map(action.map, (*path, "map"), what, created, obj)
        self.no_copy(action.no_copy, (*path, "no_copy"), what, obj)
        if action.when is not None:
            self.expression(action.when, (*path, "when"), f"condition of {what}", obj)
        lines = action.lines
        if lines is None:
            return
        lines_path = (*path, "lines")
        where = f"lines of {what}"
        source = self.object_ref(
            lines.source,
            self.doc.node((*lines_path, "from")),
            f"{where} come from unknown object '{lines.source}'",
        )
        if source is not None and not _lookups(source, obj.name):
            self.error(
                self.doc.node((*lines_path, "from")),
                f"{where} come from '{source.name}', which has no lookup to '{obj.name}'",
            )
        target = self.object_ref(
            lines.target, self.doc.node((*lines_path, "to")), f"{where} go to unknown object '{lines.target}'"
        )
        if target is not None and created is not None and not _lookups(target, created.name):
            self.error(
                self.doc.node((*lines_path, "to")),
                f"{where} go to '{target.name}', which has no lookup to '{created.name}'",
            )
        if source is not None and target is not None:
            self.field_map(lines.map, (*lines_path, "map"), where, target, source)
        if source is not None:
            self.no_copy(lines.no_copy, (*lines_path, "no_copy"), where, source)

    # -- roll-ups --------------------------------------------------------------------------------
    def rollups(self, obj: ObjectDef, object_path: Path) -> None:
        for rollup in obj.rollups:
            self.rollup(obj, rollup, (*object_path, "rollups", rollup.name))

    def rollup(self, obj: ObjectDef, rollup: Rollup, path: Path) -> None:
        what = f"roll-up '{rollup.name}' of '{obj.name}'"
        key = self.doc.key(path)
        self.name("roll-up", rollup.name, key)
        if obj.has_field(rollup.name):
            defined = obj.field(rollup.name).position
            where = f" (defined at {defined})" if defined else ""
            self.error(key, f"{what} has the name of a field of '{obj.name}'{where}")
        kind = rollup.kind.value
        folded = (*path, kind)
        child = self.object_ref(
            rollup.child, self.doc.node(folded), f"{what} names unknown object '{rollup.child}'"
        )
        if child is None:
            return
        if rollup.kind is RollupKind.COUNT:
            if rollup.field is not None:
                self.error(
                    self.doc.node(folded),
                    f"count of {what} counts records: write '{child.name}', "
                    f"not '{child.name}.{rollup.field}'",
                )
        elif rollup.field is None:
            self.error(self.doc.node(folded), f"{kind} of {what} needs a field: write '{child.name}.FIELD'")
        elif not child.has_field(rollup.field):
            if not self.broken.field(child.name, rollup.field):
                self.error(
                    self.doc.node(folded),
                    f"{what} names unknown field '{rollup.field}' of '{child.name}'"
                    f"{did_you_mean(rollup.field, child.field_names)}",
                )
        else:
            self.folded_type(what, rollup, child, folded)
        self.via(obj, rollup, child, (*path, "via"), what)
        if rollup.where is not None:
            self.expression(rollup.where, (*path, "where"), f"condition of {what}", child)

    def folded_type(self, what: str, rollup: Rollup, child: ObjectDef, path: Path) -> None:
        field = child.field(rollup.field or "")
        name = f"'{child.name}.{field.name}'"
        if rollup.kind is RollupKind.SUM and field.value_type not in NUMERIC_TYPES:
            self.error(
                self.doc.node(path), f"{what} cannot sum {name} ({kind_of(field)}): sum takes a number field"
            )
        elif rollup.kind in (RollupKind.MIN, RollupKind.MAX) and field.value_type not in _ORDERED:
            kind = rollup.kind.value
            self.error(
                self.doc.node(path),
                f"{what} cannot take the {kind} of {name} ({kind_of(field)}): "
                f"{kind} takes a number or date field",
            )

    def via(self, obj: ObjectDef, rollup: Rollup, child: ObjectDef, path: Path, what: str) -> None:
        """``via`` is a lookup on the child that points at ``obj``."""
        position = self.doc.node(path)
        candidates = _lookups(child, obj.name)
        listed = f" (lookups to '{obj.name}': {', '.join(candidates)})" if candidates else ""
        if not child.has_field(rollup.via):
            if not self.broken.field(child.name, rollup.via):
                hint = did_you_mean(rollup.via, candidates or child.field_names)
                self.error(
                    position, f"via of {what} names unknown field '{rollup.via}' of '{child.name}'{hint}"
                )
            return
        field = child.field(rollup.via)
        if field.type is _T.LOOKUP and field.to == obj.name:
            return
        actual = f"a lookup to '{field.to}'" if field.type is _T.LOOKUP else f"a {kind_of(field)} field"
        self.error(
            position,
            f"via '{rollup.via}' of {what} must be a lookup on '{child.name}' to '{obj.name}', "
            f"but it is {actual}{listed}",
        )
