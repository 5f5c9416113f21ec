"""The end-to-end harness: a live uvicorn server on a fresh database and headless Chromium pages.

Each test gets its own database (SQLite file, or a PostgreSQL schema of its own when
``CRM_TEST_POSTGRES_URL`` is set), migrated to the shipped ``after_sales`` blueprint,
with a small org chart (added with ``UserDirectory.add``; the four who sign in get the argon2 hash
of :data:`PASSWORD`, computed once per run because argon2 is slow on purpose):

- ``rep@example.com`` (sales_rep, managed by ``manager@example.com``),
- ``manager@example.com`` (sales_manager), ``finance@example.com`` (finance), ``admin@example.com`` (admin),
- the reps of the blueprint's ``assign by region`` table (no password: they never sign in here).

The app is the one ``crm serve`` builds (:func:`crm_platform.app.build_application`), run by a real
``uvicorn.Server`` in a background thread on a free port of 127.0.0.1.

Pages come from :class:`Web` (the ``web`` fixture): ``web.open("desktop" | "phone")`` opens a page in
a context of its own (so two users can be signed in at once). Every page is watched: browser console
errors (a Content-Security-Policy refusal of an inline script or style is one), uncaught script
errors, failed requests and answers of 400 and more (except the 409/422 a form answers with when it
refuses the input) fail the test. ``web.shot(page, step)`` saves
``test-output/screenshots/<test>/<step>.png``; a failed test also leaves a screenshot and the HTML of
every page it had open there.

Without Chromium at ``/usr/bin/chromium`` every test here is skipped, and says why.
"""

from __future__ import annotations

import functools
import re
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from crm_platform.app import Application, build_application
from crm_platform.metadata import Blueprint, load_blueprint
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.migrations.migrate import migrate
from crm_platform.runtime.people.users import User, UserDirectory, hash_password
from crm_platform.runtime.storage.db import create_engine
from tests.conftest import Database, _postgres_database, _sqlite_database

ROOT = Path(__file__).resolve().parents[2]
AFTER_SALES = ROOT / "blueprints" / "after_sales.yaml"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "Chromium not installed at /usr/bin/chromium: run .ci/run or apt-get install chromium"
PASSWORD = "e2e-secret-password"

#: Browser context options of each viewport the tests use.
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True},
}
#: Statuses a page may answer with on purpose: a form re-rendered with the refusal in place.
EXPECTED_REFUSALS = {409, 422}
#: Auto-waiting ``expect`` gives up after this long; a server on a busy machine can be slow.
expect.set_options(timeout=15_000)


# -- the live server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class People:
    """The org chart every test starts with."""

    rep: User
    manager: User
    finance: User
    admin: User


@dataclass
class LiveServer:
    """A running application: its address, its database and its people."""

    url: str
    dialect: str
    application: Application
    people: People

    def create(self, object: str, values: dict[str, Any], *, owner: User) -> dict[str, Any]:
        """A record created through the record service as ``owner`` (for data a test only looks at)."""
        return self.application.platform.records.create(object, values, actor=Actor(owner.id))


@functools.cache
def _blueprint() -> Blueprint:
    return load_blueprint(AFTER_SALES)


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def _add_people(users: UserDirectory, blueprint: Blueprint) -> People:
    admin = users.add("admin@example.com", role="admin", name="Ada Admin")
    manager = users.add("manager@example.com", role="sales_manager", name="Max Manager", team="sales")
    rep = users.add(
        "rep@example.com", role="sales_rep", name="Rita Rep", manager_email=manager.email, team="sales"
    )
    finance = users.add("finance@example.com", role="finance", name="Fred Finance")
    table = users.tables.users
    people = [admin.id, manager.id, rep.id, finance.id]
    with users.engine.begin() as conn:
        conn.execute(table.update().where(table.c.id.in_(people)).values(password_hash=_password_hash()))
    # "assign by region" refuses to assign to someone who is not a user.
    for assignment in blueprint.assignments:
        for email in {*(entry.user for entry in assignment.entries), assignment.default}:
            if email and users.find(email) is None:
                users.add(email, role="sales_rep", manager_email=manager.email, team="sales")
    return People(rep=rep, manager=manager, finance=finance, admin=admin)


class _ServerThread:
    """``uvicorn.Server`` on a socket bound to a free port, run in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="e2e-uvicorn", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and return once the server answers."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the e2e server did not start")
            time.sleep(0.02)
        with urllib.request.urlopen(f"{self.url}/login", timeout=10) as answer:
            assert answer.status == 200, f"GET /login answered {answer.status}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()


def _databases(dialect: str, directory: Path, template: Path) -> Iterator[Database]:
    """An empty database migrated to the blueprint: a copy of the migrated SQLite file, or a new schema."""
    if dialect == "sqlite":
        shutil.copyfile(template, directory / "crm.sqlite3")
        database = _sqlite_database(directory)
        try:
            yield database
        finally:
            database.engine.dispose()
    else:
        for database in _postgres_database():
            migrate(database.engine, _blueprint())
            yield database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the blueprint once per run; each test serves a copy of it."""
    path = tmp_path_factory.mktemp("e2e-template") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine, _blueprint())
    engine.dispose()  # closing the last connection folds the WAL into the file we copy
    return path


def _serve(database: Database) -> Iterator[LiveServer]:
    """Build the app as ``crm serve`` does, add the people, serve it until the test is over."""
    blueprint = _blueprint()
    application = build_application(str(AFTER_SALES), database.url, engine=database.engine)
    users = UserDirectory(database.engine, application.platform.tables)
    people = _add_people(users, blueprint)
    server = _ServerThread(application.app)
    server.start()
    try:
        yield LiveServer(server.url, database.dialect, application, people)
    finally:
        server.stop()
        application.stop_scheduler()


@pytest.fixture
def server(
    request: pytest.FixtureRequest, tmp_path: Path, chromium: Browser, sqlite_template: Path
) -> Iterator[LiveServer]:
    """The application on a fresh database: SQLite, unless the test parametrizes it indirectly::

    @pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)
    """
    for database in _databases(getattr(request, "param", "sqlite"), tmp_path, sqlite_template):
        yield from _serve(database)


# -- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the whole run; skips every browser test when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    playwright: Playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so the ``web`` fixture knows whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@dataclass
class _Watched:
    """A page and what went wrong on it."""

    page: Page
    context: BrowserContext
    viewport: str
    problems: list[str] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


class Web:
    """Pages on the live server for one test, watched for console errors and failed requests."""

    def __init__(self, browser: Browser, server: LiveServer, test_name: str) -> None:
        self.browser = browser
        self.server = server
        self.folder = SCREENSHOTS / _slug(test_name)
        self.watched: list[_Watched] = []

    # -- pages --

    def open(self, viewport: str = "desktop") -> Page:
        """A new page in a context of its own (own cookies) at ``viewport`` ("desktop" or "phone")."""
        context = self.browser.new_context(base_url=self.server.url, locale="en-US", **VIEWPORTS[viewport])
        page = context.new_page()
        watched = _Watched(page, context, viewport)
        self._watch(watched)
        self.watched.append(watched)
        return page

    def _watch(self, watched: _Watched) -> None:
        page, problems = watched.page, watched.problems

        def on_console(message: Any) -> None:
            # 4xx/5xx answers are judged by on_response, which knows the URL and which ones are expected.
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                problems.append(f"console error on {page.url}: {message.text}")

        def on_page_error(error: Any) -> None:
            problems.append(f"script error on {page.url}: {error}")

        def on_request_failed(request: Any) -> None:
            failure = request.failure or ""
            # Leaving a page before it finished loading aborts what it was still fetching (the
            # page itself, or its deferred scripts): not a fault. A missing asset answers 404,
            # which on_response reports; a refused one fails with another error.
            if "ERR_ABORTED" in failure:
                return
            problems.append(f"request failed: {request.method} {request.url}: {failure}")

        def on_response(response: Any) -> None:
            kind = response.request.resource_type
            if response.status < 400:
                return
            if kind in ("document", "fetch", "xhr") and response.status in EXPECTED_REFUSALS:
                return
            problems.append(f"{response.request.method} {response.url} answered {response.status} ({kind})")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        page.on("requestfailed", on_request_failed)
        page.on("response", on_response)

    def problems(self) -> list[str]:
        """Everything that went wrong on the pages so far."""
        return [problem for watched in self.watched for problem in watched.problems]

    def shot(self, page: Page, step: str) -> Path:
        """Save a full-page screenshot as ``<test>/<step>.png``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_slug(step)}.png"
        page.screenshot(path=str(path), full_page=True)

        return path

    def close(self, *, failed: bool) -> None:
        """Close every context; after a failure, first keep a screenshot and the HTML of each page."""
        for number, watched in enumerate(self.watched, start=1):
            if failed and not watched.page.is_closed():
                self.folder.mkdir(parents=True, exist_ok=True)
                stem = self.folder / f"failure-{number}-{watched.viewport}"
                try:
                    watched.page.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(watched.page.content(), encoding="utf-8")
                except Exception as exc:  # the page may have crashed: the report matters more
                    Path(f"{stem}.txt").write_text(f"could not capture the page: {exc}", encoding="utf-8")
            watched.context.close()

    # -- signing in and out --

    def sign_in(self, page: Page, email: str, password: str = PASSWORD) -> None:
        """Sign in at /login as ``email`` and wait until the app has left the sign-in page."""
        page.goto("/login")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        expect(page).not_to_have_url(re.compile(r"/login"))
        # The page's scripts (keyboard shortcuts, drag and drop) run by the load event; a test that
        # presses a key before then would race them on a busy machine.
        page.wait_for_load_state("load")

    def sign_out(self, page: Page) -> None:
        """Sign out from the avatar menu."""
        page.locator("details.avatar-menu > summary").click()
        page.locator("details.avatar-menu").get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login"))


@pytest.fixture
def web(request: pytest.FixtureRequest, chromium: Browser, server: LiveServer) -> Iterator[Web]:
    """Browser pages against the test's :func:`server`."""
    pages = Web(chromium, server, request.node.name)
    yield pages
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(report.failed for report in reports.values())
    pages.close(failed=failed)
    problems = pages.problems()
    if problems and not failed:
        pytest.fail("the browser saw problems:\n" + "\n".join(problems), pytrace=False)
