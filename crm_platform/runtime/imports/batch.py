"""One batch of an import: cells to values, lookups resolved at once, the rows through the service.

Every row is checked by the record service (validation, permissions, stage
gates, event rules) inside the batch's transaction. New records are written
with ``create_many`` (one INSERT per batch, each record's event still
published); keyed imports and imports with event rules go row by row, the
service's own savepoint keeping a refused row from undoing the rows before it. A row that fails before the
service (a cell that does not parse, a lookup that names nothing) is still shown
to the service inside a savepoint that is rolled back, so its error lists every
problem of the row at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from crm_platform.metadata.model import Field, FieldType, ObjectDef
from crm_platform.runtime.actors import Actor
from crm_platform.runtime.errors import RecordError, ValidationError
from crm_platform.runtime.imports.lookups import LookupResolver, Resolved, Users
from crm_platform.runtime.imports.progress import Counts
from crm_platform.runtime.imports.values import CellError, CellReader, cell_text, is_blank
from crm_platform.runtime.matching.finder import DuplicateFinder
from crm_platform.runtime.records.service import RecordService


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a row: the column (if one), the field (if one), what is wrong."""

    column: str | None
    field: str | None
    text: str

    def __str__(self) -> str:
        if self.column is not None:
            return f"column '{self.column}' ({self.field}): {self.text}"
        if self.field is not None:
            return f"{self.field}: {self.text}"
        return self.text


@dataclass(frozen=True)
class RowError:
    """A rejected row: its spreadsheet row number, its cells and every problem found."""

    row: int
    cells: tuple[Any, ...]
    problems: tuple[Problem, ...]

    @property
    def columns(self) -> str:
        return "; ".join(dict.fromkeys(p.column for p in self.problems if p.column))

    @property
    def message(self) -> str:
        return "; ".join(str(problem) for problem in self.problems)

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass
class Outcome:
    """What one batch did: counts, rejected rows and duplicate warnings."""

    counts: Counts = field(default_factory=Counts)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What every batch of one import shares: the columns' fields, resolvers, the key."""

    obj: ObjectDef
    #: (index in the row, column, field) of each imported column, in the file's order.
    columns: tuple[tuple[int, str, Field], ...]
    reader: CellReader
    lookups: dict[str, LookupResolver]
    key: Field | None
    users: Users | None = None


class BatchWriter:
    """Writes batches of one import through the record service.

    A batch of new records (no ``--key``) goes through ``RecordService.create_many``:
    the same checks per row, one INSERT per batch. ``row_by_row`` keeps one
    ``create`` per row, so event rules fire with only the earlier rows written.
    """

    def __init__(
        self,
        service: RecordService,
        plan: Plan,
        finder: DuplicateFinder | None,
        *,
        row_by_row: bool = False,
    ) -> None:
        self.service = service
        self.row_by_row = row_by_row
        self.plan = plan
        self.finder = finder if finder is not None and finder.checks(plan.obj.name) else None
        self.column_of = {f.name: column for _i, column, f in plan.columns}
        self.order = {column: index for index, column, _f in plan.columns}

    def write(
        self, conn: sa.Connection, rows: Sequence[tuple[Any, ...]], numbers: Sequence[int], actor: Actor
    ) -> Outcome:
        """Import ``rows`` (sheet rows ``numbers``) on ``conn``; the caller commits or rolls back."""
        plan = self.plan
        if plan.users is None and any(f.type is FieldType.USER for _i, _c, f in plan.columns):
            plan.users = Users.load(conn, self.service.tables)
        converted = [self._convert(row) for row in rows]
        self._resolve(conn, rows, converted)
        existing = self._existing(conn, converted) if plan.key is not None else {}
        outcome = Outcome()
        targets: list[list[int] | None] = []
        for values, problems in converted:
            targets.append(self._target(values, problems, existing))
        if self.finder is not None:
            self._warn(conn, converted, targets, numbers, outcome)
        if plan.key is None and not self.row_by_row:
            self._create_many(conn, converted, rows, numbers, actor, outcome)
            return outcome
        for (values, problems), target, row, number in zip(converted, targets, rows, numbers, strict=True):
            if problems:
                problems.extend(self._probe(conn, values, target, actor, problems))
                problems.sort(key=lambda p: self.order.get(p.column, len(self.order)))
                outcome.errors.append(RowError(number, tuple(row), tuple(problems)))
                outcome.counts.failed += 1
                continue
            try:
                self._save(conn, values, target, existing, actor, outcome.counts)
            except RecordError as exc:
                outcome.errors.append(RowError(number, tuple(row), tuple(self._problems(exc))))
                outcome.counts.failed += 1
        return outcome

    # -- cells ------------------------------------------------------------------------------------

    def _convert(self, row: tuple[Any, ...]) -> tuple[dict[str, Any], list[Problem]]:
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for index, column, f in self.plan.columns:
            cell = row[index] if index < len(row) else None
            if f.type in (FieldType.LOOKUP, FieldType.USER):
                values[f.name] = None if is_blank(cell) else cell_text(cell)
                continue
            try:
                values[f.name] = self.plan.reader.read(f, cell)
            except CellError as exc:
                problems.append(Problem(column, f.name, str(exc)))
        return values, problems

    def _resolve(
        self,
        conn: sa.Connection,
        rows: Sequence[tuple[Any, ...]],
        converted: list[tuple[dict[str, Any], list[Problem]]],
    ) -> None:
        """Lookups and users: one query per lookup column for the whole batch."""
        for _index, column, f in self.plan.columns:
            if f.type is FieldType.LOOKUP:
                texts = {values[f.name] for values, _p in converted if values.get(f.name) is not None}
                resolved = self.plan.lookups[column].resolve(conn, texts)
            elif f.type is FieldType.USER:
                assert self.plan.users is not None
                resolved = {}
            else:
                continue
            for values, problems in converted:
                text = values.get(f.name)
                if text is None:
                    continue
                found = resolved.get(text) if f.type is FieldType.LOOKUP else None
                if found is None and f.type is FieldType.USER:
                    assert self.plan.users is not None
                    found = self.plan.users.resolve(text)
                found = found or Resolved(error=f"cannot resolve {text!r}")
                if found.error is not None:
                    del values[f.name]
                    problems.append(Problem(column, f.name, found.error))
                else:
                    values[f.name] = found.id

    # -- keys and duplicates ----------------------------------------------------------------------

    def _existing(
        self, conn: sa.Connection, converted: list[tuple[dict[str, Any], list[Problem]]]
    ) -> dict[Any, list[list[int]]]:
        """Key value -> [[id, version], ...] of the live records holding it (one query)."""
        key = self.plan.key
        assert key is not None
        table = self.service.tables.object(self.plan.obj.name)
        wanted = {values.get(key.name) for values, _p in converted} - {None}
        if not wanted:
            return {}
        column = table.c[key.name]
        query = sa.select(table.c.id, table.c.version, column).where(
            column.in_(sorted(wanted, key=str)), table.c.deleted_at.is_(None)
        )
        found: dict[Any, list[list[int]]] = {}
        for row in conn.execute(query):
            found.setdefault(row[2], []).append([int(row[0]), int(row[1])])
        return found

    def _target(
        self, values: dict[str, Any], problems: list[Problem], existing: Mapping[Any, list[list[int]]]
    ) -> list[int] | None:
        """The ``[id, version]`` of the record a keyed row updates (``None``: it creates one)."""
        key = self.plan.key
        if key is None:
            return None
        value = values.get(key.name)
        column = self.column_of[key.name]
        if value is None:
            if not any(p.field == key.name for p in problems):
                problems.append(
                    Problem(column, key.name, "is blank, but it is the --key that finds the record")
                )
            return None
        holders = existing.get(value, [])
        if len(holders) > 1:
            ids = ", ".join(str(i) for i, _v in sorted(holders)[:3])
            problems.append(
                Problem(
                    column,
                    key.name,
                    f"{len(holders)} {self.plan.obj.name} records have {value!r} (ids {ids})",
                )
            )
            return None
        if key.is_computed:
            del values[key.name]
            if not holders:
                problems.append(
                    Problem(column, key.name, f"no {self.plan.obj.name} has the number {value!r}")
                )
                return None
        return holders[0] if holders else None

    def _warn(
        self,
        conn: sa.Connection,
        converted: list[tuple[dict[str, Any], list[Problem]]],
        targets: list[list[int] | None],
        numbers: Sequence[int],
        outcome: Outcome,
    ) -> None:
        assert self.finder is not None
        found = self.finder.find_many(
            self.plan.obj.name,
            [values for values, _p in converted],
            exclude_ids=[t[0] if t else None for t in targets],
            connection=conn,
        )
        for index, matches in sorted(found.items()):
            shown = [replace(m, row=numbers[m.row] - 1) if m.row is not None else m for m in matches]
            described = "; ".join(match.describe() for match in shown[:5])
            outcome.warnings.append(f"row {numbers[index]}: possible duplicate of {described}")

    # -- writing ----------------------------------------------------------------------------------

    def _save(
        self,
        conn: sa.Connection,
        values: dict[str, Any],
        target: list[int] | None,
        existing: dict[Any, list[list[int]]],
        actor: Actor,
        counts: Counts,
    ) -> None:
        name = self.plan.obj.name
        if target is None:
            # Blank cells of a new record are not given: defaults (and the owner) fill them.
            given = {field: value for field, value in values.items() if value is not None and value != []}
            record = self.service.create(name, given, actor=actor, connection=conn)
            counts.created += 1
            if self.plan.key is not None and record.get(self.plan.key.name) is not None:
                existing.setdefault(record[self.plan.key.name], []).append([record["id"], record["version"]])
            return
        record = self.service.update(name, target[0], values, version=target[1], actor=actor, connection=conn)
        if record["version"] == target[1]:
            counts.unchanged += 1
        else:
            target[1] = record["version"]
            counts.updated += 1

    def _create_many(
        self,
        conn: sa.Connection,
        converted: list[tuple[dict[str, Any], list[Problem]]],
        rows: Sequence[tuple[Any, ...]],
        numbers: Sequence[int],
        actor: Actor,
        outcome: Outcome,
    ) -> None:
        """New records of a batch in one ``create_many``; rows already refused are only probed."""
        given: list[dict[str, Any]] = []
        probe: set[int] = set()
        for index, (values, problems) in enumerate(converted):
            taken = {p.field for p in problems}
            if problems:
                probe.add(index)
            # Blank cells of a new record are not given: defaults (and the owner) fill them.
            given.append(
                {
                    name: value
                    for name, value in values.items()
                    if name not in taken and value is not None and value != []
                }
            )
        results = self.service.create_many(
            self.plan.obj.name, given, actor=actor, connection=conn, probe=probe
        )
        for (_values, problems), result, row, number in zip(converted, results, rows, numbers, strict=True):
            if problems:
                taken = {p.field for p in problems}
                if isinstance(result, RecordError):
                    problems.extend(p for p in self._problems(result) if p.field not in taken)
                problems.sort(key=lambda p: self.order.get(p.column, len(self.order)))
                outcome.errors.append(RowError(number, tuple(row), tuple(problems)))
                outcome.counts.failed += 1
            elif isinstance(result, RecordError):
                outcome.errors.append(RowError(number, tuple(row), tuple(self._problems(result))))
                outcome.counts.failed += 1
            else:
                outcome.counts.created += 1

    def _probe(
        self,
        conn: sa.Connection,
        values: dict[str, Any],
        target: list[int] | None,
        actor: Actor,
        known: list[Problem],
    ) -> list[Problem]:
        """The service's view of a row already refused: its other problems (nothing is kept)."""
        taken = {p.field for p in known}
        clean = {name: value for name, value in values.items() if name not in taken}
        savepoint = conn.begin_nested()
        try:
            self._save(conn, clean, list(target) if target else None, {}, actor, Counts())
        except RecordError as exc:
            return [p for p in self._problems(exc) if p.field not in taken]
        finally:
            savepoint.rollback()
        return []

    def _problems(self, exc: RecordError) -> list[Problem]:
        if isinstance(exc, ValidationError) and exc.fields:
            return [Problem(self.column_of.get(name), name, text) for name, text in exc.fields.items()]
        return [Problem(None, None, exc.message)]
