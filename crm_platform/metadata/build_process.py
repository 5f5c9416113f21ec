"""Building the declared processes: field roles, pool, actions, roll-ups, duplicates, conversions.

Split from :mod:`.build` (which builds fields, forms, views, stages and
approvals) so each module stays one idea. Like there, the input is
schema-valid data; values that do not suit their field are kept as written and
reported by the checks.

Field-role defaults are decided here, once, and nowhere else (the serializer
asks :func:`default_roles` too, to leave defaults out):

- ``amount_field``: the object's first field of type ``money``, else none;
- ``contact_field``: its first field of type ``email``, else none;
- ``tags_field``: its first field of type ``multi_choice``, else none;
- ``party_field``, ``role_field``, ``primary_field``, ``subtitle_field``: none;
- ``card``: no fields.

A role is never guessed from a field's name. Writing ``amount_field: null``
declares that the object has no amount even though it has a money field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .model import (
    ActionLines,
    Conversion,
    ConversionTarget,
    DuplicateKey,
    DuplicateRules,
    ExistingPolicy,
    Field,
    FieldMap,
    FieldRoles,
    FieldType,
    FieldValue,
    Label,
    MatchKind,
    ObjectAction,
    Rollup,
    RollupKind,
)
from .yamlpos import Path, YamlDocument

#: ``FieldRoles`` attribute -> the object key that declares it.
ROLE_KEYS: dict[str, str] = {
    "amount": "amount_field",
    "party": "party_field",
    "tags": "tags_field",
    "contact": "contact_field",
    "role": "role_field",
    "primary": "primary_field",
    "subtitle": "subtitle_field",
}
#: Roles with a default taken from the first field of this type.
_DEFAULT_TYPES: dict[str, FieldType] = {
    "amount": FieldType.MONEY,
    "contact": FieldType.EMAIL,
    "tags": FieldType.MULTI_CHOICE,
}
ROLLUP_KINDS: tuple[str, ...] = tuple(kind.value for kind in RollupKind)


def default_roles(fields: Iterable[Field]) -> FieldRoles:
    """The roles an object has when it declares none (see the module docstring)."""
    fields = tuple(fields)
    found = {
        role: next((f.name for f in fields if f.type is kind), None) for role, kind in _DEFAULT_TYPES.items()
    }
    return FieldRoles(**found)


def build_roles(spec: Mapping[str, Any], fields: tuple[Field, ...]) -> FieldRoles:
    """The object's declared roles; a role not declared takes :func:`default_roles`' value."""
    defaults = default_roles(fields)
    values: dict[str, Any] = {
        role: spec[key] if key in spec else getattr(defaults, role) for role, key in ROLE_KEYS.items()
    }
    return FieldRoles(**values, card=tuple(spec.get("card") or ()))


class ProcessBuilder:
    """Builds the process parts of one document; ``field_types`` knows every object's field types.

    ``label`` and ``typed`` are :func:`.build.build_label` and :func:`.build.typed_default`
    (passed in, because :mod:`.build` imports this module).
    """

    def __init__(
        self,
        document: YamlDocument,
        label: Callable[[Any], Label],
        typed: Callable[[FieldType, Any], Any],
    ) -> None:
        self.doc = document
        self.label = label
        self.typed = typed
        self.field_types: dict[str, dict[str, FieldType]] = {}
        for obj, spec in (document.data.get("objects") or {}).items():
            fields = spec.get("fields") if isinstance(spec, dict) else None
            self.field_types[obj] = {
                name: FieldType(f["type"])
                for name, f in (fields or {}).items()
                if isinstance(f, dict) and f.get("type") in FieldType._value2member_map_
            }

    def values(self, obj: str, spec: Mapping[str, Any] | None, path: Path) -> tuple[FieldValue, ...]:
        """``{field: value}`` of a ``pool`` or ``mark``, each typed like the field's default."""
        types = self.field_types.get(obj, {})
        return tuple(
            FieldValue(
                name,
                value if name not in types else self.typed(types[name], value),
                self.doc.key((*path, name)),
            )
            for name, value in (spec or {}).items()
        )

    def field_map(self, spec: Mapping[str, str] | None, path: Path) -> tuple[FieldMap, ...]:
        return tuple(
            FieldMap(target, source, self.doc.key((*path, target))) for target, source in (spec or {}).items()
        )

    def action(self, obj: str, name: str, spec: dict[str, Any], path: Path) -> ObjectAction:
        lines = spec.get("lines")
        lines_path = (*path, "lines")
        return ObjectAction(
            name=name,
            object=obj,
            create=spec["create"],
            label=self.label(spec.get("label")),
            map=self.field_map(spec.get("map"), (*path, "map")),
            no_copy=tuple(spec.get("no_copy") or ()),
            lines=None
            if lines is None
            else ActionLines(
                source=lines["from"],
                target=lines["to"],
                map=self.field_map(lines.get("map"), (*lines_path, "map")),
                no_copy=tuple(lines.get("no_copy") or ()),
                position=self.doc.key(lines_path),
            ),
            when=spec.get("when"),
            position=self.doc.key(path),
        )

    def rollup(self, name: str, spec: dict[str, Any], path: Path) -> Rollup:
        kind = next(k for k in ROLLUP_KINDS if k in spec)
        child, _, field = str(spec[kind]).partition(".")
        return Rollup(
            name=name,
            kind=RollupKind(kind),
            child=child,
            field=field or None,
            via=spec["via"],
            where=spec.get("where"),
            label=self.label(spec.get("label")),
            position=self.doc.key(path),
        )

    def duplicates(self, spec: dict[str, Any] | None, path: Path) -> DuplicateRules | None:
        if spec is None:
            return None
        keys = tuple(
            DuplicateKey(
                field=key["field"],
                match=MatchKind(key.get("match", MatchKind.EXACT.value)),
                country=key.get("country"),
                position=self.doc.node((*path, "keys", index)),
            )
            for index, key in enumerate(spec["keys"])
        )
        return DuplicateRules(keys, tuple(spec.get("compare_with") or ()), self.doc.key(path))

    def conversion(self, name: str, spec: dict[str, Any]) -> Conversion:
        path: Path = ("conversions", name)
        targets = []
        for obj, target in spec["into"].items():
            target = target or {}
            target_path = (*path, "into", obj)
            targets.append(
                ConversionTarget(
                    object=obj,
                    map=self.field_map(target.get("map"), (*target_path, "map")),
                    no_copy=tuple(target.get("no_copy") or ()),
                    optional=target.get("optional", False),
                    existing=ExistingPolicy(target.get("existing", ExistingPolicy.NEVER.value)),
                    position=self.doc.key(target_path),
                )
            )
        return Conversion(
            name=name,
            source=spec["from"],
            targets=tuple(targets),
            label=self.label(spec.get("label")),
            mark=self.values(spec["from"], spec.get("mark"), (*path, "mark")),
            open=spec.get("open"),
            position=self.doc.key(path),
        )
