"""The sales dashboard (/dashboard, UI.md 7): KPI tiles, the funnel and the leaderboard (龙虎榜).

``GET /dashboard?object=&since=&until=&owner=`` reports on one object with stages
(by default the blueprint's first with stages and a money field) over whole days,
the last 30 up to today by default. Every figure comes from the record service's
permission scope (:mod:`crm_platform.runtime.reports.pipeline`, ``RecordService.count``), so a
rep sees their own deals whatever the URL says; the owner filter only narrows that
scope and is offered to readers who see more than their own.

Each tile compares its value with the period of equal length just before; the
arrow and the signed text carry the direction, the colour only repeats it, and a
duration (the sales cycle) counts a fall as good.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Action, Condition, FilterOp, ObjectDef, Outcome, Scope, Stage
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import ForbiddenError
from crm_platform.runtime.records.permissions import Access
from crm_platform.runtime.reports.pipeline import Funnel, FunnelStage, LeaderboardRow, funnel, leaderboard
from crm_platform.runtime.web.i18n import catalogues
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.dashboard.scope import (
    DashboardQuery,
    Period,
    money_field,
    parse_query,
    staged_objects,
)
from crm_platform.runtime.web.screens.frame import Screens

Number = Decimal | float | int


@dataclass(frozen=True)
class Choice:
    """An option of a select of the scope form."""

    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class Tile:
    """One KPI tile."""

    #: ``won_amount``, ``win_rate``, ``cycle``, ``created`` or ``followups``.
    key: str
    label: str
    #: What the metric is (the tile's tooltip).
    definition: str
    #: ``money``, ``percent``, ``days`` or ``count``: how the template formats the values.
    kind: str
    #: ``None``: nothing to measure (no deal closed, amounts hidden from the reader).
    value: Number | None
    previous: Number | None
    #: The change from the previous period: percent, or percentage points for a ``percent`` tile;
    #: ``None`` when it cannot be said (no previous value, or a previous zero).
    change: float | None
    #: ``up``, ``down``, ``flat`` or ``none`` (nothing to compare).
    direction: str
    #: Whether the change is good news (``None``: neither); durations count a fall as good.
    good: bool | None
    #: The list behind the figure.
    url: str


@dataclass(frozen=True)
class FunnelBar:
    """One stage of the funnel as a bar."""

    stage: Stage
    entered: int
    amount: Decimal | None
    #: Percent of the previous stage's count (``None``: first stage, or after zero).
    conversion: float | None
    average_days: float | None
    #: The bar's width in percent of the widest stage (0-100), an SVG ``rect`` attribute.
    width: float
    #: ``open``, ``won`` or ``lost`` (the bar's colour; the label names the stage anyway).
    outcome: str
    #: The list of deals now in this stage.
    url: str


@dataclass(frozen=True)
class DashboardPage:
    """``screens/dashboard.html``."""

    obj: ObjectDef
    query: DashboardQuery
    previous: Period
    #: Objects with stages to choose from (empty when there is only one).
    objects: tuple[Choice, ...]
    #: People the owner filter offers (empty: not offered, the reader sees their own deals only).
    owners: tuple[Choice, ...]
    #: Messages about parts of the URL that were left out.
    problems: tuple[str, ...]
    tiles: tuple[Tile, ...]
    stages: tuple[FunnelBar, ...]
    lost: tuple[FunnelBar, ...]
    leaders: tuple[LeaderboardRow, ...]
    #: Whether the funnel has amounts (the object has a money field the reader may see).
    amounts: bool
    #: Nothing happened in the period: no deal created, moved or won, no follow-up.
    empty: bool
    #: The signed-in user (their leaderboard line is marked).
    user_id: int


def compare(
    value: Number | None, previous: Number | None, *, points: bool, lower_is_better: bool
) -> tuple[float | None, str, bool | None]:
    """``(change, direction, good)`` of a tile: see :class:`Tile`."""
    if value is None or previous is None:
        return None, "none", None
    delta = float(value) - float(previous)
    direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
    good = None if direction == "flat" else (direction == "down") == lower_is_better
    if points:
        return round(delta, 1), direction, good
    if float(previous) == 0:
        return (0.0 if delta == 0 else None), direction, good
    return round(delta * 100 / abs(float(previous)), 1), direction, good


def _list_url(object: str, filters: list[str], fragment: str = "") -> str:
    query = urlencode([("f", f) for f in filters])
    return f"/o/{object}" + (f"?{query}" if query else "") + fragment


def _sum_amount(rows: tuple[FunnelStage, ...], names: frozenset[str]) -> Decimal | None:
    amounts = [r.amount for r in rows if r.stage in names]
    if any(a is None for a in amounts):
        return None
    return sum((a for a in amounts if a is not None), Decimal(0))


class DashboardBuilder:
    """Builds the page of one request (runs queries: call it in a thread)."""

    def __init__(self, screens: Screens, actor: Actor, user_id: int, language: str) -> None:
        self.screens = screens
        self.services = screens.services
        self.actor = actor
        self.user_id = user_id
        self.language = language
        self.words = catalogues()[language]

    def owner_choices(self, access: Access, owner: int | None) -> tuple[Choice, ...]:
        """The people whose deals the reader may see, when that is more than their own."""
        read = access.scope(Action.READ)
        if access.subject is not None and read in (Scope.NONE, Scope.OWN):
            return ()
        people = [u for u in self.services.users.active_users() if access.reaches(read, u.id)]
        return tuple(Choice(str(u.id), u.name or u.email, u.id == owner) for u in people)

    def problem_messages(self, query: DashboardQuery) -> tuple[str, ...]:
        words = self.words
        texts = {
            "since": words.gettext("The start date is not a date (e.g. 2024-05-01); the default is shown."),
            "until": words.gettext("The end date is not a date (e.g. 2024-05-31); the default is shown."),
            "reversed": words.gettext("The start date is after the end date; the default is shown."),
            "length": words.gettext("The period is longer than ten years; the default is shown."),
            "owner": words.gettext("The owner filter was not understood and is left out."),
        }
        return tuple(texts[p] for p in query.problems)

    def build(self, params: dict[str, str]) -> DashboardPage:
        """The dashboard for the query ``params``; 403 when the reader may read none of the object."""
        blueprint = self.screens.blueprint
        today = self.screens.settings.clock().astimezone(dt.UTC).date()
        query = parse_query(blueprint, params, today)
        obj = blueprint.object(query.object)
        records = self.services.records
        access = records.access(obj.name, actor=self.actor)
        if access.scope(Action.READ) is Scope.NONE and access.subject is not None:
            raise ForbiddenError(f"role {access.subject.role} may not read {obj.name} records")
        owners = None if query.owner is None else (query.owner,)
        amount = money_field(obj)
        period, previous = query.period, query.period.previous()

        def reports(when: Period) -> tuple[Funnel, list[LeaderboardRow], int]:
            report = funnel(
                records,
                obj.name,
                actor=self.actor,
                amount_field=amount,
                owners=owners,
                since=when.since,
                until=when.until,
            )
            board = leaderboard(
                records,
                obj.name,
                actor=self.actor,
                amount_field=amount,
                owners=owners,
                since=when.since,
                until=when.until,
            )
            created = [
                Condition("created_at", FilterOp.GTE, when.since),
                Condition("created_at", FilterOp.LT, when.until),
            ]
            if query.owner is not None:
                created.append(Condition("owner_id", FilterOp.EQ, query.owner))
            return report, board, records.count(obj.name, actor=self.actor, filters=created)

        now_report, now_board, now_created = reports(period)
        then_report, then_board, then_created = reports(previous)
        tiles = self.tiles(
            obj, query, (now_report, now_board, now_created), (then_report, then_board, then_created)
        )
        stages, lost = self.bars(obj, query, now_report)
        empty = (
            now_created == 0
            and not now_board
            and not any(r.entered for r in (*now_report.stages, *now_report.lost))
        )
        objects = staged_objects(blueprint)
        return DashboardPage(
            obj=obj,
            query=query,
            previous=previous,
            objects=tuple(
                Choice(o.name, blueprint_label(o, self.language), o.name == obj.name) for o in objects
            )
            if len(objects) > 1
            else (),
            owners=self.owner_choices(access, query.owner),
            problems=self.problem_messages(query),
            tiles=tiles,
            stages=stages,
            lost=lost,
            leaders=tuple(now_board),
            amounts=any(r.amount is not None for r in now_report.stages),
            empty=empty,
            user_id=self.user_id,
        )

    def tiles(
        self,
        obj: ObjectDef,
        query: DashboardQuery,
        now: tuple[Funnel, list[LeaderboardRow], int],
        then: tuple[Funnel, list[LeaderboardRow], int],
    ) -> tuple[Tile, ...]:
        """The five KPI tiles, each against the previous period."""
        words = self.words
        won_names = frozenset(s.name for s in obj.stages if s.outcome is Outcome.WON)
        closed_names = won_names | {s.name for s in obj.stages if s.outcome is Outcome.LOST}
        owner = [] if query.owner is None else [f"owner_id:eq:{query.owner}"]
        since = query.period.first.isoformat()
        # Deals won in the period were last changed in it or later: a superset the list can filter.
        touched = [f"updated_at:gte:{since}", *owner]
        won_list = _list_url(obj.name, [f"stage:in:{','.join(sorted(won_names))}", *touched])
        closed_list = _list_url(obj.name, [f"stage:in:{','.join(sorted(closed_names))}", *touched])
        created_list = _list_url(
            obj.name,
            [f"created_at:gte:{since}", f"created_at:lt:{query.period.until.date().isoformat()}", *owner],
        )

        def tile(
            key: str,
            label: str,
            definition: str,
            kind: str,
            value: Number | None,
            previous: Number | None,
            url: str,
        ) -> Tile:
            change, direction, good = compare(
                value, previous, points=kind == "percent", lower_is_better=kind == "days"
            )
            return Tile(key, label, definition, kind, value, previous, change, direction, good, url)

        (report, board, created), (old, old_board, old_created) = now, then
        return (
            tile(
                "won_amount",
                words.gettext("Won amount"),
                words.gettext("The amounts of the deals won in the period, summed."),
                "money",
                _sum_amount(report.stages, won_names),
                _sum_amount(old.stages, won_names),
                won_list,
            ),
            tile(
                "win_rate",
                words.gettext("Win rate"),
                words.gettext("Deals won out of the deals closed (won or lost) in the period."),
                "percent",
                report.win_rate,
                old.win_rate,
                closed_list,
            ),
            tile(
                "cycle",
                words.gettext("Average cycle"),
                words.gettext(
                    "Average days from a deal's creation to its win, over the deals won in the period. "
                    "Lower is better."
                ),
                "days",
                report.average_cycle_days,
                old.average_cycle_days,
                won_list,
            ),
            tile(
                "created",
                words.gettext("Deals created"),
                words.gettext("New deals created in the period."),
                "count",
                created,
                old_created,
                created_list,
            ),
            tile(
                "followups",
                words.gettext("Follow-ups logged"),
                words.gettext("Calls, visits, meetings and e-mails logged in the period."),
                "count",
                sum(r.followups for r in board),
                sum(r.followups for r in old_board),
                query.url() + "#leaderboard",
            ),
        )

    def bars(
        self, obj: ObjectDef, query: DashboardQuery, report: Funnel
    ) -> tuple[tuple[FunnelBar, ...], tuple[FunnelBar, ...]]:
        """The funnel's bars in pipeline order, and the lost stages apart."""
        widest = max((r.entered for r in (*report.stages, *report.lost)), default=0)
        owner = [] if query.owner is None else [f"owner_id:eq:{query.owner}"]
        field = obj.stage_field.name if obj.stage_field is not None else "stage"

        def bar(row: FunnelStage) -> FunnelBar:
            stage = obj.stage(row.stage)
            width = round(row.entered * 100 / widest, 1) if widest else 0.0
            outcome = stage.outcome.value if stage.outcome is not None else "open"
            url = _list_url(obj.name, [f"{field}:eq:{stage.name}", *owner])
            return FunnelBar(
                stage, row.entered, row.amount, row.conversion, row.average_days, width, outcome, url
            )

        return tuple(bar(r) for r in report.stages), tuple(bar(r) for r in report.lost)


class DashboardScreens:
    """Routes of this screen."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route("/dashboard", self.page, methods=["GET"], name="dashboard")]

    async def page(self, request: Request) -> Response:
        principal = self.screens.principal(request)
        language = self.screens.language(request)
        builder = DashboardBuilder(self.screens, principal.actor, principal.user.id, language)
        page = await run_in_threadpool(builder.build, dict(request.query_params))
        title = catalogues()[language].gettext("Dashboard")
        return await self.screens.render(request, "screens/dashboard.html", page, title=title)
