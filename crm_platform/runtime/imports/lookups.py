"""Lookups and users as people write them, resolved a batch at a time.

A lookup cell names its target by title, by auto number or by id: one query per
lookup column per batch finds every value of the batch at once (and, only when
some value is unknown, one more for the nearest titles to suggest). A user cell
names an e-mail or a name, resolved against the users read once per import.
Ambiguous and unknown values become row errors naming up to three candidates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from crm_platform.metadata.model import Blueprint, Field, FieldType
from crm_platform.runtime.storage.tables import Tables

_TEXTUAL = frozenset({FieldType.TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL, FieldType.AUTO_NUMBER})
#: Titles fetched to suggest a near spelling of an unknown value (per column and batch).
_SUGGEST_LIMIT = 500


@dataclass(frozen=True)
class Resolved:
    """A cell resolved to an id, or the error message why it could not be."""

    id: int | None = None
    error: str | None = None


@dataclass
class Users:
    """Every user by lowered e-mail and by folded name (read once per import)."""

    by_email: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, list[int]] = field(default_factory=dict)
    ids: set[int] = field(default_factory=set)
    emails: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: sa.Connection, tables: Tables) -> Users:
        users = tables.users
        found = cls()
        for row in conn.execute(sa.select(users.c.id, users.c.email, users.c.name)):
            found.ids.add(int(row.id))
            found.emails[int(row.id)] = row.email
            found.by_email[row.email.lower()] = int(row.id)
            found.by_name.setdefault(" ".join(row.name.casefold().split()), []).append(int(row.id))
        return found

    def resolve(self, text: str) -> Resolved:
        """``text`` as an e-mail, a name or an id of a user."""
        if text.lower() in self.by_email:
            return Resolved(self.by_email[text.lower()])
        named = self.by_name.get(" ".join(text.casefold().split()), [])
        if len(named) == 1:
            return Resolved(named[0])
        if named:
            which = ", ".join(self.emails[i] for i in named[:3])
            return Resolved(error=f"{text!r} is the name of {len(named)} users ({which}); write the e-mail")
        if text.isdigit() and int(text) in self.ids:
            return Resolved(int(text))
        close = difflib.get_close_matches(text.lower(), list(self.by_email), n=3, cutoff=0.85)
        hint = "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
        return Resolved(error=f"no user with e-mail or name {text!r}{hint}")


class LookupResolver:
    """Resolves the values of one lookup field (to ``field.to``) for a batch, in one query."""

    def __init__(self, blueprint: Blueprint, tables: Tables, lookup: Field) -> None:
        self.target = blueprint.object(lookup.to or "")
        self.table = tables.object(self.target.name)
        title = self.target.field(self.target.title) if self.target.has_field(self.target.title) else None
        self.title = self.table.c[title.name] if title is not None and title.type in _TEXTUAL else None
        self.numbers = [self.table.c[f.name] for f in self.target.fields if f.type is FieldType.AUTO_NUMBER]

    def resolve(self, conn: sa.Connection, texts: Iterable[str]) -> dict[str, Resolved]:
        """Each of ``texts`` -> the id of the one live record it names, or an error."""
        wanted = sorted(set(texts))
        if not wanted:
            return {}
        ids = sorted({int(text) for text in wanted if text.isdigit() and len(text) < 19})
        table = self.table
        columns = [table.c.id, *([self.title] if self.title is not None else []), *self.numbers]
        matches = [table.c.id.in_(ids)] if ids else []
        matches += [column.in_(wanted) for column in columns[1:]]
        query = sa.select(*columns).where(table.c.deleted_at.is_(None), sa.or_(*matches))
        by_title: dict[str, list[int]] = {}
        by_number: dict[str, list[int]] = {}
        by_id: set[int] = set()
        for row in conn.execute(query):
            record_id = int(row[0])
            by_id.add(record_id)
            values = list(row[1:])
            if self.title is not None:
                by_title.setdefault(str(values.pop(0)), []).append(record_id)
            for value in values:
                if value is not None:
                    by_number.setdefault(str(value), []).append(record_id)
        result: dict[str, Resolved] = {}
        unknown: list[str] = []
        name = self.target.name
        for text in wanted:
            found = by_title.get(text) or by_number.get(text)
            if found is None and text.isdigit() and int(text) in by_id:
                found = [int(text)]
            if not found:
                unknown.append(text)
            elif len(found) == 1:
                result[text] = Resolved(found[0])
            else:
                shown = ", ".join(str(i) for i in sorted(found)[:3])
                more = ", ..." if len(found) > 3 else ""
                result[text] = Resolved(
                    error=f"{text!r} names {len(found)} {name} records (ids {shown}{more}); "
                    "write the id or the number instead"
                )
        if unknown:
            result.update(self._unknown(conn, unknown))
        return result

    def _unknown(self, conn: sa.Connection, unknown: list[str]) -> dict[str, Resolved]:
        name = self.target.name
        candidates: list[str] = []
        if self.title is not None:
            prefixes = sorted({text[:2].lower() for text in unknown if text[:2].strip()})
            if prefixes:
                lowered = sa.func.lower(self.title)
                query = (
                    sa.select(self.title)
                    .where(
                        self.table.c.deleted_at.is_(None),
                        sa.or_(*(lowered.startswith(p, autoescape=True) for p in prefixes)),
                    )
                    .distinct()
                    .limit(_SUGGEST_LIMIT)
                )
                candidates = [str(value) for (value,) in conn.execute(query) if value is not None]
        result: dict[str, Resolved] = {}
        for text in unknown:
            close = difflib.get_close_matches(text, candidates, n=3, cutoff=0.6)
            hint = "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
            result[text] = Resolved(
                error=f"no {name} with the title, number or id {text!r}{hint}"
                if self.title is not None
                else f"no {name} with the number or id {text!r}"
            )
        return result


def resolvers(blueprint: Blueprint, tables: Tables, fields: Mapping[str, Field]) -> dict[str, LookupResolver]:
    """A resolver for each lookup field among ``fields`` (column -> field)."""
    return {
        column: LookupResolver(blueprint, tables, f)
        for column, f in fields.items()
        if f.type is FieldType.LOOKUP
    }
