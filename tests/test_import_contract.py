"""The import contract of ``crm_platform``, read from the source with :mod:`ast` (nothing is imported).

Every module's imports of ``crm_platform`` modules, at module level and inside functions,
make one graph. Imports under ``if TYPE_CHECKING:`` count too: a module that names its owner
in a type hint still knows its owner, which is the coupling the rule against cycles is about.
The contract:

- the graph has no cycle (each is printed as a chain, ``a -> b -> a``);
- ``crm_platform.runtime`` imports none of rules, compose, app, cli or scenarios (the runtime
  is the platform; those are built on it);
- ``crm_platform.metadata`` imports neither the runtime nor the rules;
- no module of ``crm_platform`` is over 500 lines;
- no module imports a private name (``_x``) from another package.

:data:`KNOWN` lists the breaches that are being worked on elsewhere, each with why; an entry
that no longer breaches fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.paths import ROOT

ROOT = ROOT
PACKAGE = "crm_platform"
MAX_LINES = 500
#: What the runtime must never import: the layers built on top of it.
ABOVE_RUNTIME = ("rules", "compose", "app", "cli", "scenarios")
#: What the metadata (the typed blueprint) must never import.
ABOVE_METADATA = ("runtime", "rules")

#: Breaches being fixed by the owners of those files; remove an entry when its breach is gone.
KNOWN: dict[str, str] = {}


@dataclass
class Module:
    """One module of the package: its dotted name, file, line count and what it imports."""

    name: str
    path: Path
    is_package: bool
    lines: int
    #: Imported crm_platform module -> line numbers of the imports.
    imports: dict[str, list[int]] = field(default_factory=dict)
    #: (source module, private name, line) of every ``from X import _name``.
    private: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def package(self) -> str:
        """The package the module belongs to (a package's ``__init__`` belongs to itself)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import: module level (``TYPE_CHECKING`` blocks included), in functions and classes."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute name ``from ... import`` reads from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _scan(names: set[str], module: Module) -> None:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in names:
                    module.imports.setdefault(alias.name, []).append(node.lineno)
            continue
        source = _resolve(module, node)
        if source != PACKAGE and not source.startswith(PACKAGE + "."):
            continue
        for alias in node.names:
            # ``from pkg import submodule`` imports the submodule; ``from mod import name`` the module.
            target = f"{source}.{alias.name}" if f"{source}.{alias.name}" in names else source
            if target in names and target != module.name:
                module.imports.setdefault(target, []).append(node.lineno)
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                module.private.append((source, alias.name, node.lineno))


def _modules() -> dict[str, Module]:
    paths = sorted((ROOT / PACKAGE).rglob("*.py"))
    modules: dict[str, Module] = {}
    for path in paths:
        name, is_package = _module_name(path)
        lines = len(path.read_text(encoding="utf-8").splitlines())
        modules[name] = Module(name, path, is_package, lines)
    for module in modules.values():
        _scan(set(modules), module)
    return modules


def _cycles(modules: dict[str, Module]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a closed chain."""
    graph = {name: sorted(module.imports) for name, module in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(start: str) -> None:
        # Iterative, so a deep import chain cannot hit the recursion limit.
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)

    for name in sorted(graph):
        if name not in index:
            connect(name)
    return [_chain(graph, group) for group in groups]


def _chain(graph: dict[str, list[str]], group: set[str]) -> list[str]:
    """The shortest cycle through the group's first module (breadth first inside the group)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in graph[node]:
            if nxt == start:
                return [*paths[node], start]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle found in {sorted(group)}")  # pragma: no cover


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _breaches() -> dict[str, str]:
    """Every breach of the contract, keyed by a stable name, with the message to print."""
    modules = _modules()
    found: dict[str, str] = {}
    for chain in _cycles(modules):
        found[f"cycle:{chain[0]}"] = "import cycle: " + " -> ".join(chain)
    for module in modules.values():
        for target, lines in sorted(module.imports.items()):
            where = f"{module.name} imports {target} (line {lines[0]})"
            if _in(module.name, f"{PACKAGE}.runtime") and any(
                _in(target, f"{PACKAGE}.{above}") for above in ABOVE_RUNTIME
            ):
                found[f"layer:{module.name}->{target}"] = f"runtime must not import it: {where}"
            if _in(module.name, f"{PACKAGE}.metadata") and any(
                _in(target, f"{PACKAGE}.runtime" if above == "runtime" else f"{PACKAGE}.{above}")
                for above in ABOVE_METADATA
            ):
                found[f"layer:{module.name}->{target}"] = f"metadata must not import it: {where}"
        if module.lines > MAX_LINES:
            found[f"size:{module.name}"] = f"{module.name} has {module.lines} lines (at most {MAX_LINES})"
        for source, name, line in module.private:
            source_package = source if source in modules and modules[source].is_package else None
            owner = source_package or source.rpartition(".")[0]
            if f"{source}.{name}" in modules:  # a private module of ``source``
                owner = source
            if owner != module.package:
                found[f"private:{module.name}:{source}.{name}"] = (
                    f"{module.name} imports the private {source}.{name} (line {line})"
                )
    return found


def test_the_import_graph_keeps_the_contract() -> None:
    found = _breaches()
    new = {key: message for key, message in found.items() if key not in KNOWN}
    assert not new, "\n".join(["the import contract is broken:", *sorted(new.values())])


def test_every_known_breach_is_still_a_breach() -> None:
    stale = sorted(set(KNOWN) - set(_breaches()))
    assert not stale, f"fixed, remove from KNOWN: {stale}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from crm_platform.runtime.web import app\n", "crm_platform.runtime.web.app"),
        ("from . import app\n", "crm_platform.runtime.web.app"),
        ("from .app import create_app\n", "crm_platform.runtime.web.app"),
        ("def f():\n    from ..actors import SYSTEM\n", "crm_platform.runtime.actors"),
    ],
)
def test_imports_are_resolved_to_modules(tmp_path: Path, source: str, expected: str) -> None:
    """The walker sees relative, submodule and function-level imports (checked on a made-up module)."""
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    probe = Module("crm_platform.runtime.web.probe", path, False, 1)
    _scan(set(_modules()), probe)
    assert expected in probe.imports


def test_type_checking_imports_count(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from crm_platform.runtime.web import app\n",
        encoding="utf-8",
    )
    probe = Module("crm_platform.runtime.web.probe", path, False, 3)
    _scan(set(_modules()), probe)
    assert probe.imports == {"crm_platform.runtime.web.app": [3]}


def _bare_helper_imports() -> list[str]:
    """Test modules importing a module of ``tests/`` by its bare name instead of ``tests.<name>``."""
    tests = ROOT / "tests"
    local = {path.stem for path in tests.glob("*.py")}
    local |= {path.name for path in tests.iterdir() if path.is_dir()}
    found = []
    for path in sorted(tests.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _import_nodes(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.partition(".")[0] in local:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(f"{where} imports {name} (write tests.{name})")
    return found


def test_test_helpers_are_imported_one_way() -> None:
    """``tests.support.web_fixtures``, never ``web_fixtures``: two names would load one module twice."""
    bare = _bare_helper_imports()
    assert not bare, "\n".join(bare)
