"""dump_blueprint: clean YAML that loads back to an equal blueprint."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_platform.metadata import (
    RESERVED_OBJECT_NAMES,
    SYSTEM_COLUMNS,
    ActionLines,
    Blueprint,
    Choice,
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
    ObjectDef,
    Outcome,
    Rollup,
    RollupKind,
    RuleSource,
    Stage,
    dump_blueprint,
    load_blueprint,
    load_blueprint_text,
)
from tests.support.paths import ROOT, TEST_BLUEPRINTS

GOOD = TEST_BLUEPRINTS / "good"
SHIPPED = ROOT / "blueprints"


def round_trip(blueprint: Blueprint) -> Blueprint:
    text = dump_blueprint(blueprint)
    loaded = load_blueprint_text(text, "dumped.yaml")
    return dataclasses.replace(loaded, sources=blueprint.sources)


def test_rich_blueprint_round_trips() -> None:
    original = load_blueprint(GOOD / "rich.yaml")
    assert round_trip(original) == original


def test_composed_blueprint_dumps_standalone() -> None:
    composed = load_blueprint(GOOD / "compose" / "industry.yaml")
    text = dump_blueprint(composed)
    assert "extends" not in text
    loaded = load_blueprint_text(text, "dumped.yaml")
    assert dataclasses.replace(loaded, extends="base_sales", sources=composed.sources) == composed


def test_dump_is_stable() -> None:
    text = dump_blueprint(load_blueprint(GOOD / "rich.yaml"))
    assert dump_blueprint(load_blueprint_text(text, "again.yaml")) == text


def test_defaults_are_left_out_and_fields_fit_on_one_line() -> None:
    bp = Blueprint(
        name="tiny",
        version=1,
        objects=(
            ObjectDef(
                name="lead",
                title="name",
                fields=(
                    Field("name", FieldType.TEXT, required=True),
                    Field("amount", FieldType.MONEY, min=Decimal("0.50"), scale=2),
                    Field("stage", FieldType.STAGE),
                ),
                stages=(Stage("new", probability=10), Stage("won", label=Label(zh="赢单"))),
                # What loading gives an object with a money field and no amount_field: not written.
                roles=FieldRoles(amount="amount"),
            ),
        ),
        rules=(RuleSource("lead idle 3 days -> notify owner"), RuleSource("x", name="quiet", enabled=False)),
    )
    assert dump_blueprint(bp) == (
        "blueprint: tiny\n"
        "version: 1\n"
        "objects:\n"
        "  lead:\n"
        "    title: name\n"
        "    fields:\n"
        "      name: {type: text, required: true}\n"
        "      amount: {type: money, min: 0.50, scale: 2}\n"
        "      stage: {type: stage}\n"
        "    stages:\n"
        "      - {name: new, probability: 10}\n"
        "      - {name: won, label: {zh: 赢单}}\n"
        "rules:\n"
        "  - lead idle 3 days -> notify owner\n"
        "  - {name: quiet, rule: x, enabled: false}\n"
    )
    assert round_trip(bp) == bp


# -- generated blueprints -----------------------------------------------------------------------

_FORBIDDEN = RESERVED_OBJECT_NAMES | set(SYSTEM_COLUMNS) | {"name"}
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in _FORBIDDEN and not n.startswith("crm_")
)
# Printable text without control, surrogate or line/paragraph separator characters.
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20
)
labels = st.one_of(
    st.just(Label()),
    st.builds(Label, en=words),
    st.builds(Label, en=st.none() | words, zh=words),
)
amounts = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def fields(draw: st.DrawFn, name: str, object_name: str) -> Field:
    kind = draw(st.sampled_from(["text", "integer", "money", "boolean", "choice", "multi", "date", "lookup"]))
    label = draw(labels)
    required = draw(st.booleans())
    if kind == "text":
        return Field(name, FieldType.TEXT, label, required, max_length=draw(st.none() | st.integers(1, 500)))
    if kind == "integer":
        low, high = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
        return Field(
            name, FieldType.INTEGER, label, required, min=Decimal(low), max=Decimal(high), default=low
        )
    if kind == "money":
        return Field(
            name, FieldType.MONEY, label, min=draw(amounts), scale=draw(st.none() | st.integers(0, 10))
        )
    if kind == "boolean":
        return Field(name, FieldType.BOOLEAN, label, default=draw(st.none() | st.booleans()))
    if kind in ("choice", "multi"):
        options = draw(st.lists(names, min_size=1, max_size=4, unique=True))
        choices = tuple(Choice(o, draw(labels)) for o in options)
        if kind == "choice":
            return Field(
                name, FieldType.CHOICE, label, choices=choices, default=draw(st.sampled_from(options))
            )
        return Field(name, FieldType.MULTI_CHOICE, label, choices=choices, default=(options[0],))
    if kind == "date":
        return Field(name, FieldType.DATE, label, default=draw(st.sampled_from([None, "today"])))
    return Field(name, FieldType.LOOKUP, label, to=object_name)


@st.composite
def blueprints(draw: st.DrawFn) -> Blueprint:
    objects = []
    for object_name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        extra = draw(st.lists(names, max_size=4, unique=True))
        object_fields = [Field("name", FieldType.TEXT, required=True)]
        object_fields += [draw(fields(n, object_name)) for n in extra]
        objects.append(ObjectDef(object_name, "name", tuple(object_fields), label=draw(labels)))
    rules = draw(st.lists(st.builds(RuleSource, words, st.none() | names, st.booleans()), max_size=3))
    return Blueprint(
        name=draw(names),
        version=draw(st.integers(1, 10**6)),
        objects=tuple(objects),
        label=draw(labels),
        roles=tuple(draw(st.lists(names, max_size=3, unique=True))),
        rules=tuple(r for r in rules if r.name is None)
        + tuple({r.name: r for r in rules if r.name}.values()),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blueprints())
def test_generated_blueprints_round_trip(blueprint: Blueprint) -> None:
    assert round_trip(blueprint) == blueprint


# -- the process declarations -------------------------------------------------------------------


def test_process_blueprints_round_trip() -> None:
    for path in (GOOD / "process.yaml", GOOD / "shop_process.yaml"):
        original = load_blueprint(path)
        assert round_trip(original) == original


def test_shipped_blueprints_round_trip() -> None:
    for name in ("b2b_sales.yaml", "after_sales.yaml"):
        original = load_blueprint(SHIPPED / name)
        loaded = load_blueprint_text(dump_blueprint(original), "dumped.yaml")
        assert dataclasses.replace(loaded, extends=original.extends, sources=original.sources) == original


def test_declared_absent_role_is_written_as_null() -> None:
    obj = ObjectDef(
        "deal", "name", (Field("name", FieldType.TEXT), Field("price", FieldType.MONEY)), roles=FieldRoles()
    )
    text = dump_blueprint(Blueprint(name="x", version=1, objects=(obj,)))
    assert "    amount_field: null\n" in text
    assert round_trip(Blueprint(name="x", version=1, objects=(obj,))).object("deal").roles == FieldRoles()


_PROCESS_NAMES = names.filter(lambda n: not n.startswith(("ru_", "act_")) and n != "stage")


@st.composite
def process_object(draw: st.DrawFn, object_name: str, match: MatchKind, keyed: bool) -> ObjectDef:
    """A generated object with roles, card, pool, a pipeline with gates, roll-ups, an action, duplicates."""
    extra = draw(st.lists(_PROCESS_NAMES, max_size=5, unique=True))
    object_fields = [Field("name", FieldType.TEXT, required=True)]
    object_fields += [draw(fields(n, object_name)) for n in extra]
    of_type = {t: [f.name for f in object_fields if f.type is t] for t in FieldType}
    pipeline = draw(st.booleans())
    stages: tuple[Stage, ...] = ()
    if pipeline:
        object_fields.append(Field("stage", FieldType.STAGE))
        stages = (
            Stage("open"),
            Stage("close", from_stages=draw(st.sampled_from([(), ("open",)]))),
            Stage("lost", outcome=Outcome.LOST, reason=draw(st.none() | st.just("name"))),
        )
    roles = FieldRoles(
        amount=draw(st.sampled_from([None, *of_type[FieldType.MONEY]])),
        party=draw(st.sampled_from([None, *of_type[FieldType.LOOKUP]])),
        tags=draw(st.sampled_from([None, *of_type[FieldType.MULTI_CHOICE]])),
        role=draw(st.sampled_from([None, *of_type[FieldType.CHOICE]])),
        subtitle=draw(st.sampled_from([None, "name"])),
        card=tuple(
            draw(st.lists(st.sampled_from([*(f.name for f in object_fields), "owner_id"]), unique=True))
        ),
    )
    pool = ()
    if of_type[FieldType.CHOICE]:
        field = next(f for f in object_fields if f.name == of_type[FieldType.CHOICE][0])
        pool = (FieldValue(field.name, draw(st.sampled_from([None, *field.choice_names]))),)
    rollups: list[Rollup] = []
    actions: list[ObjectAction] = []
    lookups = of_type[FieldType.LOOKUP]
    if lookups:
        # Generated lookups point at their own object: a record's children are records of its kind.
        via = lookups[0]
        rollups.append(
            Rollup(
                "ru_count", RollupKind.COUNT, object_name, None, via, draw(st.none() | st.just('name != ""'))
            )
        )
        for money in of_type[FieldType.MONEY][:1]:
            rollups.append(Rollup("ru_sum", RollupKind.SUM, object_name, money, via, label=draw(labels)))
        lines = draw(st.none() | st.just(ActionLines(object_name, object_name, no_copy=("name",))))
        actions.append(
            ObjectAction(
                "act_copy",
                object_name,
                object_name,
                label=draw(labels),
                map=(FieldMap("name", "name"),),
                no_copy=tuple(draw(st.lists(st.sampled_from(extra), unique=True))) if extra else (),
                lines=lines,
                when=draw(st.none() | st.just('name != ""')),
            )
        )
    duplicates = None
    if keyed:
        duplicates = DuplicateRules((DuplicateKey("name", match),))
    return ObjectDef(
        object_name,
        "name",
        tuple(object_fields),
        stages=stages,
        roles=roles,
        pool=pool,
        actions=tuple(actions),
        rollups=tuple(rollups),
        duplicates=duplicates,
    )


@st.composite
def process_blueprints(draw: st.DrawFn) -> Blueprint:
    match = draw(st.sampled_from([MatchKind.EXACT, MatchKind.COMPANY_NAME]))
    keyed = draw(st.booleans())
    object_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    objects = [draw(process_object(n, match, keyed)) for n in object_names]
    if keyed:
        # Objects with duplicate rules compare with each other (they share the match kind).
        objects = [
            dataclasses.replace(
                o,
                duplicates=DuplicateRules(
                    o.duplicates.keys,  # type: ignore[union-attr]
                    tuple(n for n in object_names if n != o.name and draw(st.booleans())),
                ),
            )
            for o in objects
        ]
    conversions: tuple[Conversion, ...] = ()
    if len(objects) > 1:
        targets = tuple(
            ConversionTarget(
                o.name,
                map=(FieldMap("name", "name"),),
                optional=draw(st.booleans()),
                existing=ExistingPolicy.DUPLICATES if keyed and draw(st.booleans()) else ExistingPolicy.NEVER,
            )
            for o in objects[1:]
        )
        conversions = (
            Conversion(
                "convert",
                objects[0].name,
                targets,
                label=draw(labels),
                mark=objects[0].pool,
                open=draw(st.sampled_from([None, *(t.object for t in targets)])),
            ),
        )
    return Blueprint(name=draw(names), version=1, objects=tuple(objects), conversions=conversions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(process_blueprints())
def test_generated_process_blueprints_round_trip(blueprint: Blueprint) -> None:
    assert round_trip(blueprint) == blueprint
