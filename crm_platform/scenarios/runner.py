"""Runs scenarios, each on a throwaway database (SQLite or PostgreSQL), through the composed platform.

Every scenario gets a fresh copy of one migrated database (:mod:`.databases`), the platform wired
by :func:`crm_platform.compose.compose` on a clock the scenario moves, and a
worker that fires time rules and escalates approvals at each ``advance``. So a
scenario exercises exactly what ``crm serve`` and ``crm worker`` run.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_platform.compose import Platform, build_worker, compose
from crm_platform.metadata import Blueprint
from crm_platform.metadata.suggest import did_you_mean
from crm_platform.rules.compiled import CompiledRule
from crm_platform.rules.worker import Worker
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.errors import RecordError, StateError
from crm_platform.runtime.mapping.convert import convert
from crm_platform.runtime.mapping.generate import run_action
from crm_platform.runtime.people.users import UserDirectory, UserError

from . import expect as compare
from .databases import ScenarioDatabases, scenario_databases
from .format import Scenario, Step, UserSpec
from .observe import Observer, Problem, describe_error, error_mismatch, error_text


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of one scenario, and what it exercised (for coverage)."""

    scenario: Scenario
    problems: tuple[Problem, ...]
    #: Keys of the rules that fired in writes and worker rounds that succeeded.
    fired: frozenset[str]
    #: (approval, step, "approve" | "reject") of every decision taken.
    decisions: frozenset[tuple[str, str, str]]

    @property
    def passed(self) -> bool:
        """Whether the scenario ran without a problem."""
        return not self.problems


class _StepFailed(Exception):
    """A step could not be carried out as written; stops the scenario."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Clock:
    """The scenario's time: starts at ``given.now``, moved only by ``advance`` steps."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class _Firings:
    """Collects the keys of the rules the engine reports as fired."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, rule: CompiledRule, _object: str, _record_id: int) -> None:
        self.keys.append(rule.key)


class ScenarioRunner:
    """Runs scenarios of one blueprint, each on a fresh copy of one migrated database."""

    def __init__(self, blueprint: Blueprint, databases: ScenarioDatabases) -> None:
        self.blueprint = blueprint
        self.databases = databases

    def run(self, scenario: Scenario) -> ScenarioResult:
        """Run ``scenario`` on a fresh copy of the migrated database."""
        with self.databases.fresh() as engine:
            clock = _Clock(scenario.now)
            platform = compose(self.blueprint, engine, clock=clock)
            worker = build_worker(platform, deliver=False)
            firings = _Firings()
            platform.rules.on_fired(firings)
            world = _World(scenario, platform, worker, clock, firings)
            problems = world.play()
            return ScenarioResult(
                scenario, tuple(problems), frozenset(world.fired), frozenset(world.decisions)
            )


def run_scenarios(
    blueprint: Blueprint, scenarios: Sequence[Scenario], *, database_url: str | None = None
) -> Iterator[ScenarioResult]:
    """Run each scenario on its own throwaway database; yields results as they finish.

    Without ``database_url`` (or with a SQLite one) the databases are SQLite files in a
    temporary directory; with a PostgreSQL URL they are databases created on that server
    and dropped afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="crm-scenarios-") as workdir:
        databases = scenario_databases(blueprint, Path(workdir), database_url)
        try:
            runner = ScenarioRunner(blueprint, databases)
            for scenario in scenarios:
                yield runner.run(scenario)
        finally:
            databases.close()


@dataclass
class _World(Observer):
    """One scenario's run: its platform, people, named records and what happened."""

    scenario: Scenario
    platform: Platform
    worker: Worker
    clock: _Clock
    firings: _Firings
    users: dict[str, int] = field(default_factory=dict)
    admins: set[str] = field(default_factory=set)
    names: dict[str, tuple[str, int]] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    decisions: set[tuple[str, str, str]] = field(default_factory=set)

    # -- playing ---------------------------------------------------------------------------------

    def play(self) -> list[Problem]:
        """Set the scenario up and run its steps; returns its problems (none when it passes)."""
        problems: list[Problem] = []
        position = self.scenario.position
        try:
            self.setup()
            for step in self.scenario.steps:
                position = step.position
                problems.extend(self.step(step))
        except _StepFailed as failed:
            problems.append(failed.problem)
        except Exception as exc:  # a crash fails this scenario, not the whole run
            problems.append(Problem(position, f"the platform crashed: {type(exc).__name__}: {exc}"))
        for key in self.scenario.covers:
            if key not in self.fired:
                problems.append(
                    Problem(self.scenario.position, f"rule '{key}' is listed in covers but never fired")
                )
        return problems

    def setup(self) -> None:
        """Create the given users (managers first) and the given records."""
        directory = UserDirectory(self.platform.engine, self.platform.tables)
        for user in _managers_first(self.scenario.users):
            try:
                created = directory.add(
                    user.email, role=user.role, manager_email=user.manager, team=user.team
                )
            except UserError as exc:
                raise _StepFailed(Problem(self.scenario.position, f"user {user.email}: {exc}")) from None
            self.users[user.email] = created.id
            if user.role == "admin":
                self.admins.add(user.email)
        for spec in self.scenario.records:
            try:
                record = self.platform.records.create(
                    spec.object, self.values(spec.object, spec.values), actor=self.actor(spec.actor)
                )
            except RecordError as exc:
                raise _StepFailed(Problem(spec.position, f"given record @{spec.name}: {exc}")) from None
            self.names[spec.name] = (spec.object, int(record["id"]))
        self.keep_firings()

    def keep_firings(self) -> None:
        """Count the rules fired by the step that just succeeded."""
        self.fired.update(self.firings.keys)
        self.firings.keys.clear()

    def step(self, step: Step) -> list[Problem]:
        """Run one step, checking its expected error; returns the problems of an ``expect`` step."""
        if step.action == "expect":
            return self.expect(step)
        error: Exception | None = None
        try:
            getattr(self, f"do_{step.action}")(step.args, step)
        except _StepFailed:
            raise
        except (RecordError, UserError) as exc:
            error = exc
        if error is None:
            self.keep_firings()
            if step.error is not None:
                raise _StepFailed(
                    Problem(
                        step.position, f"expected {describe_error(step.error)}, but {step.action} succeeded"
                    )
                )
            return []
        # The write was rolled back: rules that ran inside it did not really fire.
        self.firings.keys.clear()
        if step.error is None:
            raise _StepFailed(Problem(step.position, f"{step.action} failed: {error_text(error)}"))
        mismatch = error_mismatch(step.error, error)
        if mismatch:
            raise _StepFailed(
                Problem(step.position, f"{step.action} failed differently than expected", tuple(mismatch))
            )
        return []

    # -- actions ---------------------------------------------------------------------------------

    def do_create(self, args: dict[str, Any], step: Step) -> None:
        """Create a record, naming it when the step says ``name``."""
        record = self.platform.records.create(
            args["object"],
            self.values(args["object"], args.get("values", {})),
            actor=self.actor(args.get("as")),
        )
        if "name" in args:
            self.names[args["name"].removeprefix("@")] = (args["object"], int(record["id"]))

    def do_update(self, args: dict[str, Any], step: Step) -> None:
        """Update a named record at its current version."""
        object, record_id = self.record(args["record"])
        actor = self.actor(args.get("as"))
        current = self.platform.records.get(object, record_id, actor=actor)
        values = self.values(object, args["values"])
        self.platform.records.update(object, record_id, values, version=current["version"], actor=actor)

    def do_follow_up(self, args: dict[str, Any], step: Step) -> None:
        """Log a follow-up on a named record (moves its idle clock)."""
        object, record_id = self.record(args["record"])
        self.platform.sales.followups.log(
            object,
            record_id,
            kind=args.get("kind", "call"),
            subject=args.get("subject", "Follow-up"),
            actor=self.actor(args.get("as")),
        )

    def do_complete_task(self, args: dict[str, Any], step: Step) -> None:
        """Tick the open task with the given title on a named record."""
        object, record_id = self.record(args["record"])
        tasks = self.platform.inbox.tasks(object=object, record_id=record_id, open_only=True)
        task = next((t for t in tasks if t.title == args["title"]), None)
        if task is None:
            titles = ", ".join(f"'{t.title}'" for t in tasks) or "none"
            raise StateError(
                f"no open task '{args['title']}' on @{args['record'].removeprefix('@')} (open: {titles})"
            )
        self.platform.inbox.complete_task(task.id, user_id=self.actor(args.get("as")).user_id)

    def _decide(self, args: dict[str, Any], verdict: str) -> None:
        object, record_id = self.record(args["record"])
        request = self.platform.approvals.request_for(object, record_id)
        if request is None:
            raise StateError(f"@{args['record'].removeprefix('@')} has no pending approval to {verdict}")
        actor = self.actor(args["as"])
        if verdict == "approve":
            self.platform.approvals.approve(request.id, actor=actor, comment=args.get("comment"))
        else:
            self.platform.approvals.reject(request.id, actor=actor, comment=args.get("comment", ""))
        self.decisions.add((request.approval, request.step.name, verdict))

    def do_approve(self, args: dict[str, Any], step: Step) -> None:
        """Approve the pending request on a named record."""
        self._decide(args, "approve")

    def do_reject(self, args: dict[str, Any], step: Step) -> None:
        """Reject the pending request on a named record, with the comment."""
        self._decide(args, "reject")

    def do_convert(self, args: dict[str, Any], step: Step) -> None:
        """Carry out a declared conversion of a named record; ``name`` names the records it made.

        ``use`` picks per target ``new`` (the default), ``skip`` or a named record (``"@acme"``);
        ``values`` gives a target's own values.
        """
        _object, record_id = self.record(args["record"])
        blueprint = self.platform.records.blueprint
        name = args.get("conversion") or blueprint.conversions[0].name
        choices: dict[str, dict[str, Any]] = {}
        for target, use in (args.get("use") or {}).items():
            if str(use).startswith("@"):
                _other, existing = self.record(str(use))
                choices[target] = {"use": "existing", "id": existing}
            else:
                choices[target] = {"use": str(use)}
        for target, values in (args.get("values") or {}).items():
            choices.setdefault(target, {})["values"] = self.values(target, values)
        result = convert(
            self.platform.records, name, record_id, actor=self.actor(args.get("as")), choices=choices
        )
        for target, label in (args.get("name") or {}).items():
            if result.id(target) is not None:
                self.names[str(label).removeprefix("@")] = (target, result.id(target))

    def do_act(self, args: dict[str, Any], step: Step) -> None:
        """Run a declared action of a named record (``create X from this``); ``name`` names what it made."""
        object, record_id = self.record(args["record"])
        definition = self.platform.records.blueprint.object(object)
        if not any(a.name == args["action"] for a in definition.actions):
            names = [a.name for a in definition.actions]
            raise _StepFailed(
                Problem(
                    step.values.get("action", step.position),
                    f"{object} has no action '{args['action']}'{did_you_mean(args['action'], names)}",
                )
            )
        action = definition.action(args["action"])
        values = self.values(action.create, args.get("values") or {})
        result = run_action(
            self.platform.records,
            definition,
            action,
            record_id,
            actor=self.actor(args.get("as")),
            values=values,
        )
        if "name" in args:
            self.names[str(args["name"]).removeprefix("@")] = (result.object, int(result.record["id"]))

    def do_find(self, args: dict[str, Any], step: Step) -> None:
        """Name the one record matching ``where`` (one a rule created, say)."""
        object = args["object"]
        filters = self.filters(object, args.get("where", {}))
        page = self.platform.records.list(object, actor=SYSTEM, filters=filters, limit=2)
        if len(page.records) != 1:
            where = ", ".join(f"{k}: {compare.show(v)}" for k, v in args.get("where", {}).items())
            raise _StepFailed(
                Problem(
                    step.position,
                    f"find expected exactly one {object} with {{{where}}}, found {len(page.records)}",
                )
            )
        self.names[args["name"].removeprefix("@")] = (object, int(page.records[0]["id"]))

    def do_advance(self, args: dict[str, Any], step: Step) -> None:
        """Move the clock and run one worker round at the new time."""
        delta = dt.timedelta(
            days=args.get("days", 0), hours=args.get("hours", 0), minutes=args.get("minutes", 0)
        )
        self.clock.now += delta
        report = self.worker.run_once(self.clock.now).firings
        if report.failures:
            lines = tuple(
                f"{f.rule} on {self.name_of(f.object, f.record_id)}: {f.error}" for f in report.failures
            )
            raise _StepFailed(Problem(step.position, "time rules failed in the worker round", lines))


def _managers_first(users: Sequence[UserSpec]) -> list[UserSpec]:
    """Users in an order where each manager exists before their reports (the list order otherwise)."""
    pending, done, ordered = list(users), set(), []
    while pending:
        ready = [
            u
            for u in pending
            if u.manager is None
            or u.manager.lower() in done
            or u.manager.lower() not in {p.email for p in pending}
        ]
        if not ready:
            ready = pending[:1]  # a cycle: let UserDirectory refuse it with its own words
        for user in ready:
            pending.remove(user)
            done.add(user.email)
            ordered.append(user)
    return ordered
