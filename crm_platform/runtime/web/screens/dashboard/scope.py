"""What a dashboard URL asks for: the object, the period and the owner (UI.md 7, "Scope").

The state lives in the URL of a GET form: ``object``, ``since`` and ``until`` (days,
``until`` included) and ``owner`` (a user id). A part that does not parse is left out
with a message, so a mistyped date shows the default period and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from crm_platform.metadata.model import Blueprint, ObjectDef
from crm_platform.runtime.errors import NotFoundError

#: Days of the default period, today included.
DEFAULT_DAYS = 30
#: The longest period a dashboard reports on (about ten years), so a typo cannot ask for millennia.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    """Whole days from :attr:`first` to :attr:`last`, both included (UTC)."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def since(self) -> dt.datetime:
        """The start, as the reports take it (aware UTC)."""
        return dt.datetime.combine(self.first, dt.time(), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        """The end, excluded: midnight after :attr:`last`."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def previous(self) -> Period:
        """The period of equal length just before this one (what the tiles compare with)."""
        return Period(self.first - dt.timedelta(days=self.days), self.first - dt.timedelta(days=1))


@dataclass(frozen=True)
class DashboardQuery:
    """The scope a request asks for, with defaults filled in."""

    object: str
    period: Period
    #: The owner filter (a user id); ``None``: everyone the reader may see.
    owner: int | None
    #: Parts of the URL that were left out, and why (English; the template translates the kinds).
    problems: tuple[str, ...] = ()

    def params(self, **changes: object) -> list[tuple[str, str]]:
        """The URL pairs of this scope (for links that keep it)."""
        values = {
            "object": self.object,
            "since": self.period.first.isoformat(),
            "until": self.period.last.isoformat(),
            "owner": "" if self.owner is None else str(self.owner),
            **{k: str(v) for k, v in changes.items()},
        }
        return [(key, value) for key, value in values.items() if value]

    def url(self, **changes: object) -> str:
        return "/dashboard?" + urlencode(self.params(**changes))


def staged_objects(blueprint: Blueprint) -> tuple[ObjectDef, ...]:
    """Objects with a stage field and stages: the ones that have a funnel."""
    return tuple(obj for obj in blueprint.objects if obj.stage_field is not None and obj.stages)


def money_field(obj: ObjectDef) -> str | None:
    """The field the funnel sums: the object's amount role (``amount_field``), if it has one."""
    return obj.roles.amount


def default_object(blueprint: Blueprint) -> ObjectDef:
    """The first object with stages and a money field (else with stages); 404 when none has stages."""
    staged = staged_objects(blueprint)
    if not staged:
        raise NotFoundError("dashboard", None, "no object of the blueprint has stages, so there is no funnel")
    return next((obj for obj in staged if money_field(obj) is not None), staged[0])


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_query(blueprint: Blueprint, params: Mapping[str, str], today: dt.date) -> DashboardQuery:
    """The scope in ``params`` (a request's query); 404 for an object without stages."""
    name = params.get("object", "").strip()
    if name:
        obj = next((o for o in staged_objects(blueprint) if o.name == name), None)
        if obj is None:
            raise NotFoundError(name, None, f"'{name}' is not an object with stages, so it has no funnel")
    else:
        obj = default_object(blueprint)
    problems: list[str] = []
    last, first = today, today - dt.timedelta(days=DEFAULT_DAYS - 1)
    raw_until, raw_since = params.get("until", "").strip(), params.get("since", "").strip()
    if raw_until:
        parsed = _day(raw_until)
        if parsed is None:
            problems.append("until")
        else:
            last = parsed
            first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if raw_since:
        parsed = _day(raw_since)
        if parsed is None:
            problems.append("since")
        elif parsed > last:
            problems.append("reversed")
        elif (last - parsed).days >= MAX_DAYS:
            problems.append("length")
        else:
            first = parsed
    owner: int | None = None
    raw_owner = params.get("owner", "").strip()
    if raw_owner:
        if raw_owner.isdigit():
            owner = int(raw_owner)
        else:
            problems.append("owner")
    return DashboardQuery(obj.name, Period(first, last), owner, tuple(problems))
