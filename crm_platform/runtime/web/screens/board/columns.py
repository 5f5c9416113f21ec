"""What the kanban board shows: columns with totals and activity bars, cards in Pipedrive order.

:class:`BoardBuilder` reads everything through the services in a few set-based
calls (totals, activity split and card order per column are one query each, the
cards one list call, lookup titles one per target object) and hands the
templates plain dataclasses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from crm_platform.metadata.model import Action, Condition, Field, FieldType, FilterOp, ObjectDef, Scope, Stage
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.records.aggregates import (
    ACTIVITY_ORDER,
    Activity,
    ActivitySplit,
    RankedCard,
    RankedPage,
    Totals,
    activity_split,
    group_totals,
    ranked_groups,
)
from crm_platform.runtime.records.coerce import to_utc
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.screens.board.roles import (
    board_field,
    extra_fields,
    money_field,
    party_field,
    tags_field,
)
from crm_platform.runtime.web.screens.record.path import closed_gates, gate_text
from crm_platform.runtime.web.screens.values import display_value, lookup_titles, record_title
from crm_platform.runtime.web.services import Services

#: Cards a column shows before "Load more".
PAGE_SIZE = 20
#: Most cards one column may be asked to show at once (``?show=``).
MAX_SHOWN = 500
#: The bar's segments, left to right (Odoo): planned, today, overdue, then nothing scheduled.
BAR_ORDER: tuple[Activity, ...] = (Activity.PLANNED, Activity.TODAY, Activity.OVERDUE, Activity.NONE)


@dataclass(frozen=True)
class Segment:
    """One part of a column's activity bar: a link filtering the column to that state."""

    activity: str
    count: int
    #: Offset and width in percent of the bar (SVG attributes, never styles: the CSP forbids those).
    x: float
    width: float
    url: str
    #: The text alternative ("2 overdue").
    label: str
    active: bool


@dataclass(frozen=True)
class CardView:
    """One card of the board."""

    id: int
    version: int
    stage: str
    title: str
    url: str
    amount: Decimal | None
    #: The party lookup's title (``party_field``, e.g. the customer), or "".
    party: str
    tags: tuple[str, ...]
    #: (label, value) of the other ``card:`` fields that are filled.
    extras: tuple[tuple[str, str], ...]
    activity: str
    #: The activity icon's text alternative ("Overdue activity").
    activity_label: str
    next_due: dt.datetime | None
    owner_name: str
    owner_initial: str
    #: Whole days since the last edit or follow-up when past the stage's ``idle_days``, else ``None``.
    idle_days: int | None
    last_activity: dt.datetime | None
    #: A pending approval locks the record: the card does not drag.
    locked: bool
    #: Whether the user may move this card (edit scope, stage writable, not locked).
    movable: bool
    #: Stages whose gate is closed to this card now, with why (its "Move to…" shows them disabled).
    closed: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class ColumnView:
    """One stage's column."""

    stage: Stage
    name: str
    count: int
    #: Σ of the money field (``None``: no money field the user may see).
    total: Decimal | None
    segments: tuple[Segment, ...]
    cards: tuple[CardView, ...]
    #: The state the column is filtered to (``?activity=``), else ``None``.
    activity: str | None
    #: htmx URL of the next cards (``None``: all shown).
    more_url: str | None
    #: Without JavaScript, "Load more" reloads the board showing this many cards in the column.
    more_href: str | None
    #: The board without this column's filter.
    clear_url: str


@dataclass(frozen=True)
class Board:
    """The page context of ``/o/{object}/board`` and its fragments."""

    obj: ObjectDef
    heading: str
    columns: tuple[ColumnView, ...]
    #: Every stage, for the "Move to…" menus: (name, label).
    stages: tuple[tuple[str, str], ...]
    #: The gate of each gated stage in words (a lock on its column header).
    gates: Mapping[str, str]
    #: The stage field's name (``?stage=`` of a column's "+").
    stage_param: str
    money_field: Field | None
    can_create: bool
    csrf_token: str
    list_url: str
    board_url: str
    move_url: str
    #: A refused move shown in place (no JavaScript): the drawer with the missing fields.
    drawer: Any = None
    alert: str | None = None


def idle_days(stage: Stage | None, touched_at: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole days since ``touched_at`` when that is at least the stage's ``idle_days``, else ``None``.

    The ``idle`` rule's own definition: the record's clock is the later of its last
    edit and its last follow-up (``touched_at``).
    """
    if stage is None or stage.idle_days is None or touched_at is None:
        return None
    quiet = now - to_utc(touched_at)
    return quiet.days if quiet >= dt.timedelta(days=stage.idle_days) else None


class BoardBuilder:
    """Builds the board (or one column's next cards) for one user; call it in a thread."""

    def __init__(self, services: Services, obj: ObjectDef, actor: Actor, language: str, now: dt.datetime):
        self.services = services
        self.records = services.records
        self.obj = obj
        self.actor = actor
        self.language = language
        self.now = now
        self.words = catalogues()[language]
        self.access = self.records.access(obj.name, actor=actor)
        self.stage_field = board_field(obj, self.access)
        self.money = money_field(obj, self.access)
        self.party = party_field(obj, self.access)
        self.tags = tags_field(obj, self.access)
        self.extras = extra_fields(obj, self.access, (self.money, self.party, self.tags))
        edit = self.access.scope(Action.EDIT)
        self.can_move = edit is not Scope.NONE and self.stage_field.name not in self.access.rules.read_only
        self.base = f"/o/{obj.name}/board"

    def _(self, message: str, **values: Any) -> str:
        text = self.words.gettext(message)
        return text % values if values else text

    # -- columns ----------------------------------------------------------------------------------

    def totals(self) -> dict[Any, Totals]:
        """Count and Σ per stage in the user's read scope."""
        sums = [self.money.name] if self.money is not None else []
        return group_totals(
            self.records, self.obj.name, actor=self.actor, by=self.stage_field.name, sums=sums
        )

    def column_totals(self, totals: Mapping[Any, Totals]) -> dict[str, tuple[int, Decimal | None]]:
        """(count, Σ) of every stage, zero for empty ones."""
        result: dict[str, tuple[int, Decimal | None]] = {}
        for stage in self.obj.stages:
            found = totals.get(stage.name)
            total = None
            if self.money is not None:
                total = found.sums[self.money.name] if found is not None else Decimal(0)
            result[stage.name] = (found.count if found is not None else 0, total)
        return result

    def board(
        self,
        csrf_token: str,
        *,
        column: str | None = None,
        activity: str | None = None,
        show: int = PAGE_SIZE,
    ) -> Board:
        """The whole board; ``column`` may be filtered to ``activity`` and show ``show`` cards."""
        stages = [stage.name for stage in self.obj.stages]
        if column not in stages:
            column, activity = None, None
        if activity is not None and activity not in {a.value for a in ACTIVITY_ORDER}:
            activity = None
        show = max(PAGE_SIZE, min(show, MAX_SHOWN))
        totals = self.column_totals(self.totals())
        split = activity_split(
            self.records, self.obj.name, actor=self.actor, by=self.stage_field.name, now=self.now
        )
        others = [name for name in stages if name != column]
        pages = self._ranked(others, limit=PAGE_SIZE) if others else {}
        if column is not None:
            pages.update(self._ranked([column], limit=show, activity=activity))
        cards = self.cards([card for page in pages.values() for card in page.cards])
        columns = []
        for stage in self.obj.stages:
            page = pages.get(stage.name, RankedPage([], None))
            count, total = totals[stage.name]
            chosen = activity if stage.name == column else None
            shown = show if stage.name == column else PAGE_SIZE
            header = self.header(stage, count, total, split, chosen)
            columns.append(
                dataclasses.replace(
                    header,
                    cards=tuple(cards[c.id] for c in page.cards if c.id in cards),
                    more_url=self.more_url(stage.name, page.next, chosen),
                    more_href=self._board_url(stage.name, chosen, shown + PAGE_SIZE) if page.next else None,
                )
            )
        return dataclasses.replace(self.shell(csrf_token), columns=tuple(columns))

    def shell(self, csrf_token: str) -> Board:
        """The board without columns: what a card or a column header needs to render on its own."""
        language = self.language
        return Board(
            obj=self.obj,
            heading=self.obj.plural.get(language, "") or self.obj.label_for(language),
            columns=(),
            stages=tuple(
                (s.name, s.label.get(language, s.name.replace("_", " ").capitalize()))
                for s in self.obj.stages
            ),
            gates={
                s.name: gate_text(self.records.blueprint, self.obj, s, language)
                for s in self.obj.stages
                if s.from_stages or s.requires_approval
            },
            stage_param=self.stage_field.name,
            money_field=self.money,
            can_create=self.access.scope(Action.CREATE) is not Scope.NONE,
            csrf_token=csrf_token,
            list_url=f"/o/{self.obj.name}",
            board_url=self.base,
            move_url=f"{self.base}/move",
        )

    def header(
        self,
        stage: Stage,
        count: int,
        total: Decimal | None,
        split: Mapping[Any, ActivitySplit],
        activity: str | None = None,
    ) -> ColumnView:
        """A column without cards: its header (count, Σ, activity bar)."""
        return ColumnView(
            stage=stage,
            name=stage.name,
            count=count,
            total=total,
            segments=self.segments(stage.name, split.get(stage.name, ActivitySplit()), count, activity),
            cards=(),
            activity=activity,
            more_url=None,
            more_href=None,
            clear_url=self.base,
        )

    def slot(self, stage: str, more_url: str | None, activity: str | None) -> ColumnView:
        """What a column's "Load more" needs after an htmx page of cards."""
        found = next(s for s in self.obj.stages if s.name == stage)
        return ColumnView(found, stage, 0, None, (), (), activity, more_url, more_url, self.base)

    def more(self, stage: str, cursor: str, activity: str | None) -> tuple[tuple[CardView, ...], str | None]:
        """The cards after ``cursor`` in ``stage`` and the htmx URL of the ones after them."""
        page = self._ranked([stage], limit=PAGE_SIZE, activity=activity, cursor=cursor).get(
            stage, RankedPage([], None)
        )
        cards = self.cards(page.cards)
        return tuple(cards[c.id] for c in page.cards if c.id in cards), self.more_url(
            stage, page.next, activity
        )

    def _ranked(
        self, stages: Sequence[str], *, limit: int, activity: str | None = None, cursor: str | None = None
    ) -> dict[Any, RankedPage]:
        return ranked_groups(
            self.records,
            self.obj.name,
            actor=self.actor,
            by=self.stage_field.name,
            now=self.now,
            groups=stages,
            limit=limit,
            activity=activity,
            cursor=cursor,
        )

    def _board_url(self, column: str, activity: str | None, show: int | None = None) -> str:
        query: dict[str, Any] = {"column": column}
        if activity:
            query["activity"] = activity
        if show:
            query["show"] = show
        return f"{self.base}?{urlencode(query)}"

    def more_url(self, stage: str, cursor: str | None, activity: str | None) -> str | None:
        if cursor is None:
            return None
        query = {"cursor": cursor, **({"activity": activity} if activity else {})}
        return f"{self.base}/column/{stage}?{urlencode(query)}"

    def segments(
        self, stage: str, split: ActivitySplit, count: int, active: str | None
    ) -> tuple[Segment, ...]:
        """The bar under a column header; empty when the column is."""
        if count == 0:
            return ()
        texts = {
            Activity.PLANNED: "%(n)s planned",
            Activity.TODAY: "%(n)s due today",
            Activity.OVERDUE: "%(n)s overdue",
            Activity.NONE: "%(n)s with nothing scheduled",
        }
        segments = []
        x = 0.0
        for activity in BAR_ORDER:
            n = split.of(activity)
            if n == 0:
                continue
            width = round(100 * n / count, 2)
            segments.append(
                Segment(
                    activity=activity.value,
                    count=n,
                    x=round(x, 2),
                    width=width,
                    url=self._board_url(stage, activity.value),
                    label=self._(texts[activity], n=n),
                    active=active == activity.value,
                )
            )
            x += width
        return tuple(segments)

    # -- cards ------------------------------------------------------------------------------------

    def cards(self, ranked: Iterable[RankedCard]) -> dict[int, CardView]:
        """The cards of ``ranked`` ids, read through the record service (hidden fields stay hidden)."""
        ranked = list(ranked)
        if not ranked:
            return {}
        records: list[dict[str, Any]] = []
        ids = [card.id for card in ranked]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            page = self.records.list(
                self.obj.name,
                actor=self.actor,
                filters=[Condition("id", FilterOp.IN, chunk)],
                limit=len(chunk),
            )
            records.extend(page.records)
        lookups = [self.party, *self.extras]
        names = [f.name for f in lookups if f is not None and f.type is FieldType.LOOKUP]
        titles = lookup_titles(self.records, self.actor, self.obj, records, names) if names else {}
        owners = self._owners({r["owner_id"] for r in records if r.get("owner_id") is not None})
        by_id = {int(r["id"]): r for r in records}
        closed = closed_gates(self.records, self.obj, records, self.language)
        return {
            card.id: dataclasses.replace(
                self.card(by_id[card.id], card, titles, owners), closed=closed.get(card.id, {})
            )
            for card in ranked
            if card.id in by_id
        }

    def _owners(self, ids: set[int]) -> dict[int, str]:
        names = {}
        for user_id in sorted(ids):
            user = self.services.users.get(user_id)
            if user is not None:
                names[user_id] = user.name or user.email
        return names

    def card(
        self,
        record: Mapping[str, Any],
        ranked: RankedCard,
        titles: Mapping[tuple[str, int], str],
        owners: Mapping[int, str],
    ) -> CardView:
        """One card from its record and its place in the ranking."""
        obj, language = self.obj, self.language
        stage_name = record.get(self.stage_field.name)
        stage = next((s for s in obj.stages if s.name == stage_name), None)
        touched = record.get("touched_at") or record.get("updated_at")
        owner = owners.get(record.get("owner_id") or -1, "")
        activity_labels = {
            Activity.OVERDUE: "Overdue activity",
            Activity.TODAY: "Activity due today",
            Activity.NONE: "No activity scheduled",
            Activity.PLANNED: "Activity planned",
        }
        party = ""
        if self.party is not None:
            party = display_value(obj, self.party, record.get(self.party.name), language, titles)
        tags: tuple[str, ...] = ()
        if self.tags is not None:
            values = record.get(self.tags.name) or ()
            tags = tuple(display_value(obj, self.tags, [v], language) for v in values)
        extras = tuple(
            (f.label_for(language), display_value(obj, f, record.get(f.name), language, titles))
            for f in self.extras
            if record.get(f.name) not in (None, "", [])
        )
        movable = (
            self.can_move
            and not ranked.locked
            and self.access.reaches(self.access.scope(Action.EDIT), record.get("owner_id"))
        )
        return CardView(
            id=int(record["id"]),
            version=int(record["version"]),
            stage=str(stage_name or ""),
            title=record_title(obj, record),
            url=f"/o/{obj.name}/{record['id']}",
            amount=record.get(self.money.name) if self.money is not None else None,
            party=party,
            tags=tags,
            extras=extras,
            activity=ranked.activity.value,
            activity_label=self._(activity_labels[ranked.activity]),
            next_due=ranked.next_due,
            owner_name=owner,
            owner_initial=owner[:1].upper(),
            idle_days=idle_days(stage, touched, self.now),
            last_activity=touched,
            locked=ranked.locked,
            movable=movable,
        )

    def one_card(self, record_id: int) -> CardView | None:
        """The current card of one record (after a move), ``None`` when it left the user's scope."""
        page = ranked_groups(
            self.records,
            self.obj.name,
            actor=self.actor,
            by="id",
            now=self.now,
            groups=[record_id],
            limit=1,
        )
        found = page.get(record_id)
        if found is None or not found.cards:
            return None
        return self.cards(found.cards).get(record_id)
