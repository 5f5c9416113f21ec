"""Loading a blueprint: parse -> extends -> schema -> model -> semantic checks.

Every stage collects its problems instead of stopping at the first, so one run
reports every error of a file. The model is built from schema-valid data only:
when the schema rejects some parts, the rest is built and checked without them
(:mod:`.partial`), so a schema error at the top of a file does not hide a
semantic error further down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .build import build_model
from .checks import check_references
from .compose import merge_documents
from .errors import BlueprintError, Diagnostic
from .model import Blueprint, Position
from .partial import Spot, prune
from .schema import schema_report
from .yamlpos import YamlDocument, parse_yaml

#: An extra check run on a blueprint after the built-in ones (the rules package adds rule errors).
Check = Callable[[Blueprint], list[Diagnostic]]


@dataclass
class _Loaded:
    """A file's document with its extends resolved, or the reason it could not be."""

    document: YamlDocument | None
    sources: list[str] = field(default_factory=list)
    extends: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Where the schema errors among ``diagnostics`` are (the rest of the document is checked).
    spots: list[Spot] = field(default_factory=list)
    #: False when ``document`` is not what the file means (its ``extends`` could not be resolved).
    buildable: bool = True


def load_blueprint(path: str | os.PathLike[str], *, extra_checks: Iterable[Check] = ()) -> Blueprint:
    """Load, validate and check the blueprint at ``path``.

    Raises :class:`BlueprintError` with every problem of the file and of the
    files it extends; diagnostics name files as ``path`` was given.

    >>> bp = load_blueprint("blueprints/b2b_sales.yaml")  # doctest: +SKIP
    """
    shown = os.fspath(path)
    try:
        text = Path(shown).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = Path(shown).read_bytes()[: exc.start].count(b"\n") + 1
        raise BlueprintError(
            [Diagnostic(Position(shown, line, 1), "cannot read file: not UTF-8 text")]
        ) from None
    except OSError as exc:
        raise BlueprintError(
            [Diagnostic(Position(shown, 1, 1), f"cannot read file: {exc.strerror}")]
        ) from None
    resolved = Path(shown).resolve()
    return _finish(
        _load(text, shown, resolved.parent, ((resolved, shown),), os.path.dirname(shown)), extra_checks
    )


def load_blueprint_text(
    text: str,
    filename: str = "<blueprint>",
    *,
    base_dir: str | os.PathLike[str] | None = None,
    extra_checks: Iterable[Check] = (),
) -> Blueprint:
    """Load a blueprint from ``text``; ``extends`` is resolved against ``base_dir`` when given.

    >>> load_blueprint_text("blueprint: x\\nversion: 1\\nobjects: {}\\n", "x.yaml").name
    'x'
    """
    directory = Path(base_dir).resolve() if base_dir is not None else None
    shown_dir = os.fspath(base_dir) if base_dir is not None else ""
    return _finish(_load(text, filename, directory, (), shown_dir), extra_checks)


def check_files(
    paths: Sequence[str | os.PathLike[str]], *, extra_checks: Iterable[Check] = ()
) -> list[Diagnostic]:
    """Every problem of every file in ``paths``, in the order of the files; empty when all are valid."""
    checks = tuple(extra_checks)
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            load_blueprint(path, extra_checks=checks)
        except BlueprintError as exc:
            diagnostics.extend(exc.diagnostics)
    return diagnostics


def _finish(loaded: _Loaded, extra_checks: Iterable[Check]) -> Blueprint:
    earlier = list(loaded.diagnostics)
    document = loaded.document
    if document is None or not loaded.buildable:
        raise BlueprintError(_ordered(earlier, loaded.sources))
    checked, broken = prune(document, loaded.spots)
    if checked is None:
        raise BlueprintError(_ordered(earlier, loaded.sources))
    try:
        blueprint = build_model(checked, sources=tuple(loaded.sources), extends=loaded.extends)
    except Exception:
        # Pruned data is schema-valid, so this is a bug; with schema errors to show, show those.
        if not earlier:
            raise
        raise BlueprintError(_ordered(earlier, loaded.sources)) from None
    diagnostics = check_references(blueprint, checked, broken)
    for check in extra_checks:
        try:
            diagnostics.extend(check(blueprint))
        except Exception:
            # An extra check (rules) may trip over a reference we already reported as broken;
            # our diagnostics explain the problem. On a sound blueprint its failure is a bug: raise.
            if not diagnostics and not earlier:
                raise
    # A reference into a part the schema rejected is explained by the schema error already.
    diagnostics = earlier + [d for d in diagnostics if not broken.explains(d.message)]
    if diagnostics:
        raise BlueprintError(_ordered(diagnostics, loaded.sources))
    return blueprint


def _ordered(diagnostics: list[Diagnostic], sources: list[str]) -> list[Diagnostic]:
    """Unique diagnostics, extended files first, then by line and column."""
    rank = {name: index for index, name in enumerate(sources)}
    unique = {(d.position, d.message): d for d in diagnostics}
    return sorted(
        unique.values(),
        key=lambda d: (rank.get(d.position.file, len(rank)), d.position.line, d.position.column),
    )


def _load(
    text: str, shown: str, directory: Path | None, chain: tuple[tuple[Path, str], ...], shown_dir: str
) -> _Loaded:
    """Parse ``text`` and merge the file it extends, recursively; schema-validate the result.

    ``shown`` and ``shown_dir`` are the names diagnostics use (as the caller wrote them);
    ``directory`` and ``chain`` are resolved paths, for reading files and spotting cycles.
    """
    try:
        document = parse_yaml(text, shown)
    except BlueprintError as exc:
        return _Loaded(None, [shown], diagnostics=list(exc.diagnostics))
    diagnostics = list(document.diagnostics)
    data = document.data
    extends = data.get("extends") if isinstance(data, dict) else None
    if not isinstance(extends, str) or not extends:
        schema, spots = schema_report(document)
        return _Loaded(document, [shown], diagnostics=diagnostics + schema, spots=spots)
    position = document.text(("extends",))
    if directory is None:
        diagnostics.append(Diagnostic(position, "cannot resolve 'extends' without a base directory"))
        return _Loaded(document, [shown], diagnostics=diagnostics, buildable=False)
    target = (directory / extends).resolve()
    base_shown = os.path.normpath(os.path.join(shown_dir, extends))
    if any(target == resolved for resolved, _ in chain):
        cycle = " -> ".join([*(name for _, name in chain), base_shown])
        diagnostics.append(Diagnostic(position, f"extends cycle: {cycle}"))
        return _Loaded(document, [shown], diagnostics=diagnostics, buildable=False)
    try:
        base_text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        diagnostics.append(Diagnostic(position, f"extended file '{extends}' is not UTF-8 text"))
        return _Loaded(document, [shown], diagnostics=diagnostics, buildable=False)
    except OSError:
        diagnostics.append(
            Diagnostic(position, f"extended file '{extends}' not found (looked for {base_shown})")
        )
        return _Loaded(document, [shown], diagnostics=diagnostics, buildable=False)
    base = _load(
        base_text, base_shown, target.parent, (*chain, (target, base_shown)), os.path.dirname(base_shown)
    )
    if base.document is None or base.diagnostics:
        # The extended file must be valid on its own before anything is merged onto it.
        return _Loaded(None, [*base.sources, shown], diagnostics=base.diagnostics + diagnostics)
    merged, conflicts = merge_documents(base.document, document)
    schema, spots = schema_report(merged)
    return _Loaded(
        merged,
        [*base.sources, shown],
        extends=base.document.data.get("blueprint"),
        diagnostics=diagnostics + conflicts + schema,
        spots=spots,
    )
