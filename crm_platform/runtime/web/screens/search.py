"""Global search (``GET /search?q=``): matching records grouped by object.

Each object readable by the user is searched in its title and text fields (the ones
the user may see) through the record service, so the read scope applies; a group
shows up to five records and links to the object's list filtered by the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_platform.metadata.model import Action, Condition, FilterOp, Scope
from crm_platform.runtime.process.saved_views import searchable_fields
from crm_platform.runtime.web.i18n import label as blueprint_label
from crm_platform.runtime.web.screens.frame import Screens
from crm_platform.runtime.web.screens.values import record_title

#: Records shown per object.
PER_OBJECT = 5


@dataclass(frozen=True)
class Hit:
    title: str
    url: str


@dataclass(frozen=True)
class Group:
    object: str
    label: str
    hits: tuple[Hit, ...]
    #: More matches than shown.
    more: bool
    #: The object's list searched for the same words.
    all_url: str


@dataclass(frozen=True)
class SearchPage:
    """``search.html``."""

    #: The words searched for.
    q: str
    groups: tuple[Group, ...]


class SearchScreens:
    """``GET /search``."""

    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route("/search", self.search, methods=["GET"], name="search")]

    async def search(self, request: Request) -> Response:
        """Records matching ``q`` in each object the user may read, five per object."""
        self.screens.principal(request)
        q = request.query_params.get("q", "").strip()[:200]
        groups = await run_in_threadpool(self._groups, request, q) if q else ()
        return await self.screens.render(request, "screens/search.html", SearchPage(q, groups), title=q or "")

    def _groups(self, request: Request, q: str) -> tuple[Group, ...]:
        records = self.screens.services.records
        actor = self.screens.actor(request)
        language = self.screens.language(request)
        groups = []
        for obj in self.screens.blueprint.objects:
            access = records.access(obj.name, actor=actor)
            if access.scope(Action.READ) is Scope.NONE:
                continue
            fields = searchable_fields(obj, access.rules.hidden)
            if not fields:
                continue
            condition = Condition("|".join(fields), FilterOp.SEARCH, q)
            page = records.list(obj.name, actor=actor, filters=[condition], limit=PER_OBJECT)
            if not page.records:
                continue
            hits = tuple(Hit(record_title(obj, r), f"/o/{obj.name}/{r['id']}") for r in page.records)
            label = obj.plural.get(language, "") or blueprint_label(obj, language)
            url = f"/o/{obj.name}?{urlencode({'q': q})}"
            groups.append(Group(obj.name, label, hits, page.next is not None, url))
        return tuple(groups)
