"""Blueprints: YAML files -> validated, typed, frozen metadata.

The public front of the metadata package::

    from crm_platform.metadata import load_blueprint
    blueprint = load_blueprint("blueprints/b2b_sales.yaml")
    blueprint.object("opportunity").field("amount").type   # FieldType.MONEY

Invalid blueprints raise :class:`BlueprintError` carrying every
:class:`Diagnostic` (``file:line:col: message``).
"""

from __future__ import annotations

from .errors import BlueprintError, Diagnostic
from .loader import Check, check_files, load_blueprint, load_blueprint_text
from .model import (
    FORMULA_RESULT_TYPES,
    IDENTIFIER_PATTERN,
    NUMERIC_TYPES,
    RESERVED_OBJECT_NAMES,
    SYSTEM_COLUMNS,
    TEXTUAL_TYPES,
    Approval,
    ApprovalMode,
    ApprovalOutcome,
    ApprovalStep,
    Approver,
    ApproverKind,
    AssignmentEntry,
    AssignmentTable,
    Blueprint,
    Choice,
    Condition,
    Field,
    FieldAssignment,
    FieldType,
    FilterOp,
    Form,
    FormSection,
    Label,
    ListView,
    ObjectDef,
    Outcome,
    Position,
    RuleSource,
    SortKey,
    Stage,
    Template,
    Webhook,
)
from .serialize import dump_blueprint

__all__ = [
    "FORMULA_RESULT_TYPES",
    "IDENTIFIER_PATTERN",
    "NUMERIC_TYPES",
    "RESERVED_OBJECT_NAMES",
    "SYSTEM_COLUMNS",
    "TEXTUAL_TYPES",
    "Approval",
    "ApprovalMode",
    "ApprovalOutcome",
    "ApprovalStep",
    "Approver",
    "ApproverKind",
    "AssignmentEntry",
    "AssignmentTable",
    "Blueprint",
    "BlueprintError",
    "Check",
    "Choice",
    "Condition",
    "Diagnostic",
    "Field",
    "FieldAssignment",
    "FieldType",
    "FilterOp",
    "Form",
    "FormSection",
    "Label",
    "ListView",
    "ObjectDef",
    "Outcome",
    "Position",
    "RuleSource",
    "SortKey",
    "Stage",
    "Template",
    "Webhook",
    "check_files",
    "dump_blueprint",
    "load_blueprint",
    "load_blueprint_text",
]
