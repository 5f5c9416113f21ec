"""Semantic checks of the declared processes: field roles, card, pool, stage gates, duplicate rules
and conversions (object actions and roll-ups are in :mod:`.checks_actions`).

Every referenced object, field, stage and approval must exist (with a "did you
mean"), and every field must have a type that suits the role it plays.
"""

from __future__ import annotations

from .build_process import ROLE_KEYS
from .checks_actions import ActionChecks
from .checks_values import kind_of, value_problem
from .model import TEXTUAL_TYPES, Conversion, ExistingPolicy, FieldType, FieldValue, MatchKind, ObjectDef
from .schema import show
from .suggest import did_you_mean
from .yamlpos import Path

_T = FieldType
#: The types each role's field may have, and how the requirement reads.
_ROLE_TYPES: dict[str, tuple[frozenset[FieldType], str]] = {
    "amount": (frozenset({_T.MONEY, _T.DECIMAL, _T.INTEGER}), "a money, decimal or integer field"),
    "party": (frozenset({_T.LOOKUP}), "a lookup"),
    "tags": (frozenset({_T.MULTI_CHOICE}), "a multi_choice field"),
    "contact": (frozenset({_T.EMAIL, _T.LOOKUP}), "an email field or a lookup to an object with one"),
    "role": (frozenset({_T.CHOICE}), "a choice field"),
    "primary": (frozenset({_T.BOOLEAN}), "a boolean field"),
    "subtitle": (TEXTUAL_TYPES, "a text-like field"),
}
#: The types a duplicate key's field may have for each match kind.
_MATCH_TYPES: dict[MatchKind, tuple[frozenset[FieldType], str]] = {
    MatchKind.EMAIL: (frozenset({_T.EMAIL}), "an email field"),
    MatchKind.PHONE: (frozenset({_T.PHONE}), "a phone field"),
    MatchKind.COMPANY_NAME: (frozenset({_T.TEXT}), "a text field"),
    MatchKind.EXACT: (
        frozenset(_T) - {_T.LONG_TEXT, _T.MULTI_CHOICE, _T.BOOLEAN},
        "a field that is not long_text, multi_choice or boolean",
    ),
}
_REASON_TYPES = frozenset({_T.CHOICE, _T.TEXT, _T.LONG_TEXT})


class ProcessChecker(ActionChecks):
    """Checks the process parts of every object and the blueprint's conversions."""

    def run(self) -> None:
        for obj in self.bp.objects:
            path: Path = ("objects", obj.name)
            self.roles(obj, path)
            self.values(obj, obj.pool, (*path, "pool"), f"pool of '{obj.name}'")
            self.stage_gates(obj, path)
            self.duplicate_rules(obj, (*path, "duplicates"))
            self.actions(obj, path)
            self.rollups(obj, path)
        for conversion in self.bp.conversions:
            self.conversion(conversion)

    # -- roles, card, pool -----------------------------------------------------------------------
    def roles(self, obj: ObjectDef, path: Path) -> None:
        spec = self.raw(path)
        for role, key in ROLE_KEYS.items():
            name = getattr(obj.roles, role)
            # A default is chosen by type, so only a declared role can be wrong.
            if key not in spec or name is None:
                continue
            if not self.field_ref(obj, name, (*path, key), f"{key} of '{obj.name}'"):
                continue
            field = obj.field(name)
            types, expected = _ROLE_TYPES[role]
            if role == "contact" and field.type is _T.LOOKUP:
                target = self.object_of(field.to or "")
                if target is not None and not any(f.type is _T.EMAIL for f in target.fields):
                    self.error(
                        self.doc.node((*path, key)),
                        f"{key} '{name}' of '{obj.name}' is a lookup to '{target.name}', "
                        "which has no email field",
                    )
            elif field.value_type not in types:
                self.error(
                    self.doc.node((*path, key)),
                    f"{key} '{name}' of '{obj.name}' must be {expected}, not {kind_of(field)}",
                )
        for i, name in enumerate(obj.roles.card):
            self.field_ref(obj, name, (*path, "card", i), f"card of '{obj.name}'", system=True)

    def values(self, obj: ObjectDef, values: tuple[FieldValue, ...], path: Path, where: str) -> None:
        """``pool`` or ``mark``: every field exists and takes its value."""
        for item in values:
            if not obj.has_field(item.field):
                if not self.broken.field(obj.name, item.field):
                    self.error(
                        self.doc.key((*path, item.field)),
                        f"{where} sets unknown field '{item.field}'"
                        f"{did_you_mean(item.field, obj.field_names)}",
                    )
                continue
            written = self.raw((*path, item.field))
            problem = value_problem(
                obj, obj.field(item.field), written, stages_known=not self.broken.part(obj.name, "stages")
            )
            if problem:
                self.error(
                    self.doc.node((*path, item.field)),
                    f"{where} sets '{item.field}' to {show(written)}{problem}",
                )

    # -- stage gates -----------------------------------------------------------------------------
    def stage_gates(self, obj: ObjectDef, path: Path) -> None:
        names = tuple(s.name for s in obj.stages)
        approvals = {a.name: a for a in self.bp.approvals}
        for i, stage in enumerate(obj.stages):
            stage_path = (*path, "stages", i)
            where = f"stage '{stage.name}' of '{obj.name}'"
            for j, name in enumerate(stage.from_stages):
                position = self.doc.node((*stage_path, "from", j))
                if name == stage.name:
                    self.error(position, f"from of {where} names the stage itself")
                elif name not in names:
                    self.error(
                        position, f"from of {where} names unknown stage '{name}'{did_you_mean(name, names)}"
                    )
            approval = stage.requires_approval
            if approval is not None:
                position = self.doc.node((*stage_path, "requires_approval"))
                if approval not in approvals:
                    if not self.broken.entry("approvals", approval):
                        self.error(
                            position,
                            f"{where} requires unknown approval '{approval}'"
                            f"{did_you_mean(approval, approvals)}",
                        )
                elif approvals[approval].object != obj.name:
                    self.error(
                        position,
                        f"{where} requires approval '{approval}', which is on '{approvals[approval].object}'",
                    )
            reason = stage.reason
            if reason is not None and self.field_ref(
                obj, reason, (*stage_path, "reason"), f"reason of {where}"
            ):
                field = obj.field(reason)
                if field.type not in _REASON_TYPES:
                    self.error(
                        self.doc.node((*stage_path, "reason")),
                        f"reason '{reason}' of {where} must be a choice, text or long_text field, "
                        f"not {kind_of(field)}",
                    )

    # -- duplicates ------------------------------------------------------------------------------
    def duplicate_rules(self, obj: ObjectDef, path: Path) -> None:
        rules = obj.duplicates
        if rules is None:
            return
        keyed: list[tuple[str, Path]] = []
        for i, key in enumerate(rules.keys):
            key_path = (*path, "keys", i)
            keyed.append((key.field, (*key_path, "field")))
            if key.country is not None and key.match is not MatchKind.PHONE:
                self.error(
                    self.doc.node((*key_path, "country")),
                    f"country of duplicate key '{key.field}' of '{obj.name}' suits match phone only",
                )
            if not self.field_ref(
                obj, key.field, (*key_path, "field"), f"duplicate key {i + 1} of '{obj.name}'"
            ):
                continue
            field = obj.field(key.field)
            types, expected = _MATCH_TYPES[key.match]
            if field.value_type not in types:
                at = (*key_path, "match") if (*key_path, "match") in self.doc.nodes else (*key_path, "field")
                self.error(
                    self.doc.node(at),
                    f"duplicate key '{key.field}' of '{obj.name}' is {kind_of(field)}; "
                    f"match {key.match.value} needs {expected}",
                )
        self.duplicates("key", f"duplicates of '{obj.name}'", keyed)
        kinds = {k.match for k in rules.keys}
        for i, name in enumerate(rules.compare_with):
            position = self.doc.node((*path, "compare_with", i))
            where = f"duplicates of '{obj.name}' compare with"
            if name == obj.name:
                self.error(
                    position, f"{where} '{name}' itself; records are always compared within their own object"
                )
                continue
            other = self.object_ref(name, position, f"{where} unknown object '{name}'")
            if other is None:
                continue
            if other.duplicates is None:
                if not self.broken.part(name, "duplicates"):
                    self.error(position, f"{where} '{name}', which declares no duplicates")
            elif not kinds & {k.match for k in other.duplicates.keys}:
                listed = ", ".join(sorted(k.value for k in kinds))
                self.error(
                    position,
                    f"{where} '{name}', but no key of '{name}' matches like a key of '{obj.name}' ({listed})",
                )

    # -- conversions -----------------------------------------------------------------------------
    def conversion(self, conversion: Conversion) -> None:
        path: Path = ("conversions", conversion.name)
        what = f"conversion '{conversion.name}'"
        self.name("conversion", conversion.name, self.doc.key(path))
        source = self.object_ref(
            conversion.source,
            self.doc.node((*path, "from")),
            f"{what} converts unknown object '{conversion.source}'",
        )
        if source is not None:
            self.values(source, conversion.mark, (*path, "mark"), f"mark of {what}")
        targets = tuple(t.object for t in conversion.targets)
        for target in conversion.targets:
            target_path = (*path, "into", target.object)
            position = self.doc.key(target_path)
            if target.object == conversion.source:
                self.error(position, f"{what} converts '{target.object}' into itself")
                continue
            obj = self.object_ref(
                target.object, position, f"{what} converts into unknown object '{target.object}'"
            )
            where = f"target '{target.object}' of {what}"
            if obj is not None and source is not None:
                self.field_map(target.map, (*target_path, "map"), where, obj, source)
            if source is not None:
                self.no_copy(target.no_copy, (*target_path, "no_copy"), where, source)
            if (
                obj is not None
                and target.existing is ExistingPolicy.DUPLICATES
                and obj.duplicates is None
                and not self.broken.part(obj.name, "duplicates")
            ):
                self.error(
                    self.doc.node((*target_path, "existing")),
                    f"{where} reuses records found by duplicate rules, "
                    f"but '{obj.name}' declares no duplicates",
                )
        if conversion.open is not None and conversion.open not in targets:
            self.error(
                self.doc.node((*path, "open")),
                f"open of {what} names '{conversion.open}', which is not one of its targets "
                f"({', '.join(targets)}){did_you_mean(conversion.open, targets)}",
            )
