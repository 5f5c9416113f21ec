"""Rules that can trigger each other in a cycle, found before they ever run (``crm check``).

Each rule *writes* some things and *listens* to some things:

- writes: ``set FIELD`` writes that field of the rule's object; ``create OBJECT`` creates
  an OBJECT (and writes the fields it gives); ``assign ...`` writes ``owner_id``,
  ``move to pool`` the owner and the status. Notifications, e-mails, tasks, webhooks
  and approvals write no record field (an approval's outcome is a person's decision).
- listens: ``created`` listens to creations of its object, ``updated`` to every field
  of it, ``OBJECT.FIELD changes`` and ``N days before|after OBJECT.FIELD`` to that
  field, ``enters stage`` to the stage field. ``idle`` and schedules listen to nothing
  a rule writes: a write resets the idle clock, it never starts it.

Rule ``a`` feeds rule ``b`` when ``a`` writes what ``b`` listens to (a ``set`` of a
constant that the trigger's ``changes to`` value rules out does not count). A cycle in
that graph is reported once, at the first rule of the cycle in the blueprint, naming
what each rule writes that the next one listens to.
"""

from __future__ import annotations

import ast as pyast
from dataclasses import dataclass

from crm_platform.metadata.errors import Diagnostic
from crm_platform.metadata.model import Blueprint, FieldType, Position, RuleSource

from . import ast
from .check import check_rule
from .errors import RuleError
from .parser import parse_rule

CREATED = "(created)"
ANY_FIELD = "(any field)"


@dataclass(frozen=True)
class _Rule:
    name: str
    index: int
    source: RuleSource
    rule: ast.Rule


def _label(source: RuleSource, index: int) -> str:
    return source.name or f"rule {index + 1}"


def writes(rule: ast.Rule, blueprint: Blueprint | None = None) -> set[tuple[str, str]]:
    """The (object, field) pairs the actions of ``rule`` write; ``(O, "(created)")`` for a create."""
    written: set[tuple[str, str]] = set()
    for action in rule.actions:
        match action:
            case ast.SetField(field=name):
                written.add((rule.object, name))
            case ast.CreateRecord(object=obj, values=values):
                written.add((obj, CREATED))
                written.update((obj, v.field) for v in values)
            case ast.AssignTo() | ast.AssignBy() | ast.AssignRoundRobin():
                written.add((rule.object, "owner_id"))
            case ast.MoveToPool():
                # The owner, and what the object's ``pool:`` sets.
                written.add((rule.object, "owner_id"))
                if blueprint is not None and blueprint.has_object(rule.object):
                    written.update((rule.object, v.field) for v in blueprint.object(rule.object).pool)
    return written


def listens(rule: ast.Rule, blueprint: Blueprint) -> set[tuple[str, str]]:
    """The (object, field) pairs whose writes can trigger ``rule``."""
    match rule.trigger:
        case ast.RecordEvent(event="created"):
            return {(rule.object, CREATED)}
        case ast.RecordEvent(event="updated"):
            return {(rule.object, ANY_FIELD)}
        case ast.FieldChange(field=name) | ast.DateOffset(field=name):
            return {(rule.object, name)}
        case ast.StageEntered():
            stages = [f.name for f in blueprint.object(rule.object).fields if f.type is FieldType.STAGE]
            return {(rule.object, name) for name in stages}
    return set()


def _constant(action: ast.SetField) -> object:
    """The value of ``set FIELD = "constant"``, else a marker that matches anything."""
    tree = action.value.expression.tree.body if action.value.expression else None
    return tree.value if isinstance(tree, pyast.Constant) else _ANY


_ANY = object()


def _feeds(writer: ast.Rule, listener: ast.Rule, blueprint: Blueprint) -> str | None:
    """What ``writer`` writes that ``listener`` listens to, in words; ``None``: nothing."""
    heard = listens(listener, blueprint)
    for obj, name in sorted(writes(writer, blueprint)):
        if (obj, name) in heard or ((obj, ANY_FIELD) in heard and name != CREATED):
            pass
        else:
            continue
        trigger = listener.trigger
        if isinstance(trigger, ast.FieldChange) and trigger.to_value is not None:
            sets = [a for a in writer.actions if isinstance(a, ast.SetField) and a.field == name]
            values = [_constant(a) for a in sets]
            if sets and all(v is not _ANY and v != trigger.to_value.value for v in values):
                continue  # the value set can never be the one the trigger waits for
        if name == CREATED:
            return f"creates {_article(obj)}"
        what = "the owner" if name == "owner_id" else name
        verb = "assigns" if name == "owner_id" else "sets"
        where = "" if obj == writer.object else f" of {_article(obj)}"
        return f"{verb} {what}{where}"
    return None


def _article(noun: str) -> str:
    words = noun.replace("_", " ")
    return f"an {words}" if words[:1] in "aeiou" else f"a {words}"


def _compiled(blueprint: Blueprint) -> list[_Rule]:
    rules = []
    for index, source in enumerate(blueprint.rules):
        if not source.enabled:
            continue
        try:
            rule = parse_rule(source.text)
        except RuleError:
            continue  # reported by rule_diagnostics
        if check_rule(rule, blueprint):
            continue
        rules.append(_Rule(_label(source, index), index, source, rule))
    return rules


def _cycle_from(start: int, edges: dict[int, dict[int, str]]) -> list[int] | None:
    """The shortest cycle through ``start`` (breadth first), as a list of nodes."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges.get(node, {})):
                if target == start:
                    return paths[node]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return None


def _position(blueprint: Blueprint, rule: _Rule) -> Position:
    if rule.source.position is not None:
        return rule.source.position
    file = blueprint.sources[-1] if blueprint.sources else f"<{blueprint.name}>"
    return Position(f"{file} (rule {rule.index + 1})", 1, 1)


def _message(cycle: list[_Rule], edges: dict[int, dict[int, str]]) -> str:
    steps = []
    for position, rule in enumerate(cycle):
        following = cycle[(position + 1) % len(cycle)]
        listener = "it" if following is rule else f"'{following.name}'"
        steps.append(f"'{rule.name}' {edges[rule.index][following.index]}, which {listener} listens to")
    if len(cycle) == 1:
        head = f"rule '{cycle[0].name}' can trigger itself"
    elif len(cycle) == 2:
        head = f"rules '{cycle[0].name}' and '{cycle[1].name}' can trigger each other"
    else:
        names = ", ".join(f"'{r.name}'" for r in cycle[:-1])
        head = f"rules {names} and '{cycle[-1].name}' can trigger each other in a cycle"
    return f"{head}: {'; '.join(steps)}. Add a condition that stops the cycle"


def cycle_diagnostics(blueprint: Blueprint) -> list[Diagnostic]:
    """Every cycle of enabled rules feeding each other's triggers, once, at its first rule."""
    rules = _compiled(blueprint)
    by_index = {rule.index: rule for rule in rules}
    edges: dict[int, dict[int, str]] = {}
    for writer in rules:
        for listener in rules:
            feed = _feeds(writer.rule, listener.rule, blueprint)
            if feed is not None:
                edges.setdefault(writer.index, {})[listener.index] = feed
    diagnostics = []
    reported: set[frozenset[int]] = set()
    for rule in rules:
        cycle = _cycle_from(rule.index, edges)
        if cycle is None or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        members = [by_index[i] for i in cycle]
        diagnostics.append(Diagnostic(_position(blueprint, rule), _message(members, edges)))
    return diagnostics
