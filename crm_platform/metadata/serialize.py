"""A :class:`Blueprint` back to YAML text in the documented format.

The output is meant to diff well: defaults are left out, each field, stage and
step sits on one line as a flow mapping, and key order follows
docs/blueprint-format.md. Loading the text gives back an equal blueprint
(``extends`` is already resolved: the output stands alone).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from .build_process import ROLE_KEYS, default_roles
from .model import (
    DEFAULT_RATE_LIMIT,
    ActionLines,
    ApprovalMode,
    ApprovalOutcome,
    Blueprint,
    Choice,
    Condition,
    Conversion,
    DuplicateRules,
    ExistingPolicy,
    Field,
    FieldMap,
    FieldValue,
    Form,
    Grant,
    Label,
    ListView,
    MatchKind,
    ObjectAction,
    ObjectDef,
    PublicForm,
    Rollup,
    RuleSource,
    Stage,
    Webhook,
)


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line: ``{type: text, required: true}``."""


class _FlowList(list):  # type: ignore[type-arg]
    """A list written on one line: ``[name, account, amount]``."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes Decimals as plain numbers and knows the flow markers."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        # Indent list items under their key, as the documentation's examples do.
        return super().increase_indent(flow, False)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    text = format(value, "f")
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(tuple, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def dump_blueprint(blueprint: Blueprint) -> str:
    """YAML text of ``blueprint`` that :func:`load_blueprint_text` reads back to an equal blueprint.

    >>> print(dump_blueprint(bp))  # doctest: +SKIP
    blueprint: b2b_sales
    version: 3
    ...
    """
    data: dict[str, Any] = {"blueprint": blueprint.name, "version": blueprint.version}
    _put(data, "label", _label(blueprint.label))
    _put(data, "roles", _FlowList(blueprint.roles))
    data["objects"] = {obj.name: _object(obj) for obj in blueprint.objects}
    _put(
        data,
        "approvals",
        {
            a.name: _without_empty(
                {
                    "object": a.object,
                    "label": _label(a.label),
                    "steps": [_step(i, s) for i, s in enumerate(a.steps)],
                    "on_approve": _outcome(a.on_approve),
                    "on_reject": _outcome(a.on_reject),
                }
            )
            for a in blueprint.approvals
        },
    )
    _put(
        data,
        "templates",
        {
            t.name: {"subject": _label(t.subject, empty=""), "body": _label(t.body, empty="")}
            for t in blueprint.templates
        },
    )
    _put(data, "webhooks", {w.name: _webhook(w) for w in blueprint.webhooks})
    _put(
        data,
        "assignments",
        {
            t.name: _without_empty(
                {
                    "object": t.object,
                    "field": t.field,
                    "map": _Flow({e.value: e.user for e in t.entries}),
                    "default": t.default,
                }
            )
            for t in blueprint.assignments
        },
    )
    _put(data, "rules", [_rule(rule) for rule in blueprint.rules])
    _put(data, "conversions", {c.name: _conversion(c) for c in blueprint.conversions})
    _put(data, "public_forms", {f.name: _public_form(f) for f in blueprint.public_forms})
    if blueprint.permissions is not None:
        # Written even when empty: an empty section restricts everyone, unlike no section.
        data["permissions"] = _permissions(blueprint.permissions)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def _public_form(form: PublicForm) -> dict[str, Any]:
    data: dict[str, Any] = {"object": form.object, "fields": _FlowList(form.fields)}
    for key in ("label", "intro", "thanks"):
        _put(data, key, _label(getattr(form, key)))
    _put(data, "redirect", form.redirect)
    _put(data, "set", _values(form.set))
    _put(data, "frame_ancestors", _FlowList(form.frame_ancestors))
    if form.rate_limit != DEFAULT_RATE_LIMIT:
        data["rate_limit"] = form.rate_limit
    return data


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, {}, [], (), ""):
        data[key] = value


def _without_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in mapping.items():
        _put(result, key, value)
    return result


def _webhook(webhook: Webhook) -> _Flow:
    data = _Flow(url=webhook.url)
    if webhook.secret_env:
        data["secret_env"] = webhook.secret_env
    if webhook.events:
        data["events"] = _FlowList(webhook.events)
    if not webhook.enabled:
        data["enabled"] = False
    return data


def _label(label: Label, empty: Any = None) -> Any:
    if label.en is None and label.zh is None:
        return empty
    if label.zh is None:
        return label.en
    return _Flow({"en": label.en, "zh": label.zh}) if label.en is not None else _Flow(zh=label.zh)


def _object(obj: ObjectDef) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _put(data, "label", _label(obj.label))
    _put(data, "plural", _label(obj.plural))
    data["title"] = obj.title
    defaults = default_roles(obj.fields)
    for role, key in ROLE_KEYS.items():
        # Only roles that differ from the default: ``amount_field: null`` when one is declared absent.
        if getattr(obj.roles, role) != getattr(defaults, role):
            data[key] = getattr(obj.roles, role)
    _put(data, "card", _FlowList(obj.roles.card))
    data["fields"] = {f.name: _field(f) for f in obj.fields}
    _put(data, "forms", {form.name: _form(form) for form in obj.forms})
    _put(data, "list_views", {view.name: _list_view(view) for view in obj.list_views})
    _put(data, "stages", [_stage(stage) for stage in obj.stages])
    _put(data, "pool", _values(obj.pool))
    if obj.duplicates is not None:
        data["duplicates"] = _duplicates(obj.duplicates)
    _put(data, "actions", {a.name: _action(a) for a in obj.actions})
    _put(data, "rollups", {r.name: _rollup(r) for r in obj.rollups})
    return data


def _value(value: Any) -> Any:
    return _FlowList(value) if isinstance(value, tuple | list) else value


def _field(field: Field) -> _Flow:
    # Key order of the documentation's examples: what the field is, then its constraints, then labels.
    data = _Flow(type=field.type.value)
    _put(data, "to", field.to)
    _put(data, "choices", _choices(field.choices))
    _put(data, "formula", field.formula)
    if field.returns is not None:
        data["returns"] = field.returns.value
    for flag in ("required", "unique"):
        if getattr(field, flag):
            data[flag] = True
    _put(data, "min", field.min)
    _put(data, "max", field.max)
    if field.indexed:
        data["indexed"] = True
    _put(data, "max_length", field.max_length)
    _put(data, "pattern", field.pattern)
    if field.scale is not None:
        data["scale"] = field.scale
    if field.default is not None:
        data["default"] = _value(field.default)
    _put(data, "prefix", field.prefix)
    if field.digits != 6:
        data["digits"] = field.digits
    _put(data, "label", _label(field.label))
    _put(data, "help", _label(field.help))
    return data


def _choices(choices: tuple[Choice, ...]) -> Any:
    if all(c.label == Label() and c.color is None for c in choices):
        return _FlowList(c.name for c in choices)
    result: dict[str, Any] = {}
    for choice in choices:
        if choice.color is not None:
            result[choice.name] = _Flow(
                _without_empty({"label": _label(choice.label), "color": choice.color})
            )
        else:
            result[choice.name] = _label(choice.label, empty=_Flow())
    return _Flow(result)


def _form(form: Form) -> dict[str, Any]:
    sections = []
    for section in form.sections:
        data = _Flow()
        _put(data, "label", _label(section.label))
        if section.columns != 2:
            data["columns"] = section.columns
        data["fields"] = _FlowList(section.fields)
        sections.append(data)
    return _without_empty({"label": _label(form.label), "sections": sections})


def _list_view(view: ListView) -> dict[str, Any]:
    return _without_empty(
        {
            "label": _label(view.label),
            "columns": _FlowList(view.columns),
            "sort": _FlowList(str(key) for key in view.sort),
            "filter": [_condition(c) for c in view.filters],
        }
    )


def _condition(condition: Condition) -> _Flow:
    data = _Flow(field=condition.field, op=condition.op.value)
    if condition.value is not None:
        data["value"] = _value(condition.value)
    return data


def _stage(stage: Stage) -> _Flow:
    data = _Flow(name=stage.name)
    _put(data, "label", _label(stage.label))
    if stage.outcome is not None:
        data["outcome"] = stage.outcome.value
    if stage.probability is not None:
        data["probability"] = stage.probability
    _put(data, "requires", _FlowList(stage.requires))
    _put(data, "requires_tasks", _FlowList(stage.requires_tasks))
    if stage.idle_days is not None:
        data["idle_days"] = stage.idle_days
    _put(data, "from", _FlowList(stage.from_stages))
    _put(data, "requires_approval", stage.requires_approval)
    _put(data, "reason", stage.reason)
    return data


def _values(values: tuple[FieldValue, ...]) -> _Flow:
    return _Flow({v.field: _value(v.value) for v in values})


def _map(items: tuple[FieldMap, ...]) -> _Flow:
    return _Flow({m.target: m.source for m in items})


def _action(action: ObjectAction) -> dict[str, Any]:
    return _without_empty(
        {
            "label": _label(action.label),
            "create": action.create,
            "map": _map(action.map),
            "no_copy": _FlowList(action.no_copy),
            "lines": _lines(action.lines),
            "when": action.when,
        }
    )


def _lines(lines: ActionLines | None) -> _Flow | None:
    if lines is None:
        return None
    data = _Flow({"from": lines.source, "to": lines.target})
    _put(data, "map", _map(lines.map))
    _put(data, "no_copy", _FlowList(lines.no_copy))
    return data


def _rollup(rollup: Rollup) -> _Flow:
    folded = rollup.child if rollup.field is None else f"{rollup.child}.{rollup.field}"
    data = _Flow({rollup.kind.value: folded, "via": rollup.via})
    _put(data, "where", rollup.where)
    _put(data, "label", _label(rollup.label))
    return data


def _duplicates(rules: DuplicateRules) -> dict[str, Any]:
    keys = []
    for key in rules.keys:
        entry = _Flow(field=key.field)
        if key.match is not MatchKind.EXACT:
            entry["match"] = key.match.value
        _put(entry, "country", key.country)
        keys.append(entry)
    data: dict[str, Any] = {"keys": keys}
    _put(data, "compare_with", _FlowList(rules.compare_with))
    return data


def _conversion(conversion: Conversion) -> dict[str, Any]:
    into: dict[str, Any] = {}
    for target in conversion.targets:
        entry = _Flow()
        _put(entry, "map", _map(target.map))
        _put(entry, "no_copy", _FlowList(target.no_copy))
        if target.optional:
            entry["optional"] = True
        if target.existing is not ExistingPolicy.NEVER:
            entry["existing"] = target.existing.value
        into[target.object] = entry
    data: dict[str, Any] = {"label": _label(conversion.label), "from": conversion.source}
    data["mark"] = _values(conversion.mark)
    data["open"] = conversion.open
    data["into"] = into
    return _without_empty(data)


def _step(index: int, step: Any) -> _Flow:
    data = _Flow()
    if step.name != f"step_{index + 1}":
        data["name"] = step.name
    data["approver"] = str(step.approver)
    _put(data, "if", step.condition)
    if step.mode is not ApprovalMode.ANY:
        data["mode"] = step.mode.value
    if step.escalate_after_hours is not None:
        data["escalate_after_hours"] = step.escalate_after_hours
    return data


def _outcome(outcome: ApprovalOutcome) -> _Flow | None:
    data = _Flow()
    _put(data, "stage", outcome.stage)
    _put(data, "set", _Flow({a.field: a.expression for a in outcome.set}))
    return data or None


def _rule(rule: RuleSource) -> Any:
    if rule.name is None and rule.enabled:
        return rule.text
    data: dict[str, Any] = {}
    _put(data, "name", rule.name)
    data["rule"] = rule.text
    if not rule.enabled:
        data["enabled"] = False
    return _Flow(data)


def _permissions(grants: tuple[Grant, ...]) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for grant in grants:
        entry = _Flow(
            {
                a: getattr(grant, a).value
                for a in ("read", "create", "edit", "delete")
                if getattr(grant, a) != "none"
            }
        )
        if grant.fields:
            entry["fields"] = _Flow({f.field: f.access.value for f in grant.fields})
        roles.setdefault(grant.role, {})[grant.object] = entry
    return roles
