"""Building ``public_forms:`` entries (schema-valid data) into :class:`~.model.PublicForm`.

Apart from :mod:`.build` so each module stays one idea; the label builder and the
typed ``set`` values come from there (``values`` is :meth:`ProcessBuilder.values`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .model import DEFAULT_RATE_LIMIT, FieldValue, Label, PublicForm
from .yamlpos import Path, YamlDocument

LabelBuilder = Callable[[Any], Label]
ValuesBuilder = Callable[[str, Mapping[str, Any] | None, Path], tuple[FieldValue, ...]]


def build_public_form(
    name: str, spec: dict[str, Any], document: YamlDocument, label: LabelBuilder, values: ValuesBuilder
) -> PublicForm:
    """The form ``name`` of ``public_forms:`` (``set`` values typed like defaults of their fields)."""
    path: Path = ("public_forms", name)
    return PublicForm(
        name=name,
        object=spec["object"],
        fields=tuple(spec["fields"]),
        label=label(spec.get("label")),
        intro=label(spec.get("intro")),
        thanks=label(spec.get("thanks")),
        redirect=spec.get("redirect"),
        set=values(spec["object"], spec.get("set"), (*path, "set")),
        frame_ancestors=tuple(spec.get("frame_ancestors") or ()),
        rate_limit=spec.get("rate_limit", DEFAULT_RATE_LIMIT),
        position=document.key(path),
    )
