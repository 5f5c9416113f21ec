"""YAML parsing that remembers where every node and every key stands.

PyYAML's ``compose`` gives nodes with marks; we turn them into plain Python
data (dicts, lists, scalars) plus a table of positions keyed by the node's
path (``("objects", "lead", "fields", "name", "type")``). jsonschema reports
errors by the same paths, so each error maps straight back to ``file:line:col``.

Two deliberate departures from PyYAML's YAML 1.1 defaults, because blueprints
are written by people: only ``true``/``false`` are booleans (``yes``, ``no``,
``on`` and ``off`` stay strings, so a choice called ``no`` stays a choice), and
dates stay strings (the model decides what a date means). Numbers with a
fraction become :class:`~decimal.Decimal`, never float, so ``0.1`` stays exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from .errors import BlueprintError, Diagnostic
from .model import Position

#: A node's place in the document: mapping keys and list indexes from the root.
Path = tuple[str | int, ...]

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _BlueprintLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like booleans and no implicit timestamps."""


# Copy the resolver table before editing it so SafeLoader itself is untouched.
_BlueprintLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BlueprintLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))


@dataclass
class YamlDocument:
    """Plain data of one YAML file plus the position of each node and key."""

    filename: str
    data: Any
    #: Position of each value node.
    nodes: dict[Path, Position] = field(default_factory=dict)
    #: Position of the key under which each mapping value sits.
    keys: dict[Path, Position] = field(default_factory=dict)
    #: Where a string scalar's text itself begins, when not at the node (quoted or block scalars).
    texts: dict[Path, Position] = field(default_factory=dict)
    #: Problems found while reading (duplicate keys).
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def node(self, path: Path) -> Position:
        """Position of the node at ``path``, else of its nearest ancestor."""
        while path not in self.nodes and path:
            path = path[:-1]
        return self.nodes.get(path, Position(self.filename, 1, 1))

    def key(self, path: Path) -> Position:
        """Position of the key naming ``path``, else of the node itself."""
        return self.keys.get(path) or self.node(path)

    def text(self, path: Path) -> Position:
        """Position of the first character of the string at ``path``."""
        return self.texts.get(path) or self.node(path)


def _position(filename: str, mark: yaml.Mark) -> Position:
    return Position(filename, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, filename: str) -> YamlDocument:
    """Parse ``text`` into a :class:`YamlDocument`.

    Duplicate keys are reported in ``diagnostics`` at the second key (the
    first value is kept); a syntax error raises :class:`BlueprintError`.

    >>> parse_yaml("a: 1", "x.yaml").keys[("a",)]
    Position(file='x.yaml', line=1, column=1)
    """
    loader = _BlueprintLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = _position(filename, mark) if mark else Position(filename, 1, 1)
        problem = exc.problem or exc.context or "unreadable yaml"
        raise BlueprintError([Diagnostic(position, f"yaml syntax error: {problem}")]) from None
    finally:
        loader.dispose()
    document = YamlDocument(filename=filename, data=None)
    if root is None:
        return document
    builder = _Builder(document, loader, text)
    document.data = builder.convert(root, ())
    return document


class _Builder:
    """Walks composed nodes, recording positions and duplicate keys."""

    def __init__(self, document: YamlDocument, loader: yaml.SafeLoader, text: str) -> None:
        self.document = document
        self.loader = loader
        self.lines = text.splitlines()

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.document.nodes[path] = _position(self.document.filename, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            # Keys are names in a blueprint: always keep their text, even for `1:` or `null:`.
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            key_position = _position(self.document.filename, key_node.start_mark)
            if key in first_lines:
                self.document.diagnostics.append(
                    Diagnostic(
                        key_position, f"duplicate key '{key}' (first defined at line {first_lines[key]})"
                    )
                )
                continue
            first_lines[key] = key_position.line
            self.document.keys[(*path, key)] = key_position
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        if node.tag == "tag:yaml.org,2002:float":
            try:
                number = Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                return self.loader.construct_object(node)
            # .inf and .nan are not numbers a blueprint can use; keep them as floats for the schema.
            return number if number.is_finite() else float(number)
        value = self.loader.construct_object(node)
        if isinstance(value, str):
            self._record_text_start(node, path)
        return value

    def _record_text_start(self, node: yaml.ScalarNode, path: Path) -> None:
        filename = self.document.filename
        start = node.start_mark
        if node.style in ("'", '"'):
            self.document.texts[path] = Position(filename, start.line + 1, start.column + 2)
        elif node.style in ("|", ">"):
            # A block scalar's text starts on the first non-blank line after the indicator.
            for line_index in range(start.line + 1, min(len(self.lines), node.end_mark.line + 1)):
                line = self.lines[line_index]
                if line.strip():
                    column = len(line) - len(line.lstrip()) + 1
                    self.document.texts[path] = Position(filename, line_index + 1, column)
                    break
