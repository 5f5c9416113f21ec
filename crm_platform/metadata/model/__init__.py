"""The typed, frozen metadata model a validated blueprint becomes.

Nothing downstream of :mod:`crm_platform.metadata` sees raw YAML: the runtime
and the rules read these objects only. Every object keeps the position of the
YAML node it came from so that later checks (rules, migrations) can still point
at ``file:line:col``.

``fields`` holds types, labels and fields; ``objects`` objects, forms, views and
field roles; ``process`` stages, approvals, conversions, actions, roll-ups and
duplicate rules; ``automation`` rules, templates, webhooks and assignments;
``permissions`` grants; ``public_forms`` web-to-lead forms; ``blueprint`` the whole.
"""

from .automation import (
    WEBHOOK_ACTIONS,
    AssignmentEntry,
    AssignmentTable,
    RuleSource,
    Template,
    Webhook,
)
from .blueprint import (
    Blueprint,
)
from .fields import (
    FORMULA_RESULT_TYPES,
    IDENTIFIER_PATTERN,
    NUMERIC_TYPES,
    RESERVED_OBJECT_NAMES,
    SYSTEM_COLUMNS,
    TEXTUAL_TYPES,
    Choice,
    Field,
    FieldType,
    FilterOp,
    Label,
    Position,
)
from .objects import (
    Condition,
    FieldRoles,
    Form,
    FormSection,
    ListView,
    ObjectDef,
    SortKey,
)
from .permissions import (
    EVERY_OBJECT,
    Action,
    FieldAccess,
    FieldGrant,
    Grant,
    Scope,
)
from .process import (
    ActionLines,
    Approval,
    ApprovalMode,
    ApprovalOutcome,
    ApprovalStep,
    Approver,
    ApproverKind,
    Conversion,
    ConversionTarget,
    DuplicateKey,
    DuplicateRules,
    ExistingPolicy,
    FieldAssignment,
    FieldMap,
    FieldValue,
    MatchKind,
    ObjectAction,
    Outcome,
    Rollup,
    RollupKind,
    Stage,
)
from .public_forms import (
    DEFAULT_RATE_LIMIT,
    PublicForm,
)

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "EVERY_OBJECT",
    "FORMULA_RESULT_TYPES",
    "IDENTIFIER_PATTERN",
    "NUMERIC_TYPES",
    "RESERVED_OBJECT_NAMES",
    "SYSTEM_COLUMNS",
    "TEXTUAL_TYPES",
    "WEBHOOK_ACTIONS",
    "Action",
    "ActionLines",
    "Approval",
    "ApprovalMode",
    "ApprovalOutcome",
    "ApprovalStep",
    "Approver",
    "ApproverKind",
    "AssignmentEntry",
    "AssignmentTable",
    "Blueprint",
    "Choice",
    "Condition",
    "Conversion",
    "ConversionTarget",
    "DuplicateKey",
    "DuplicateRules",
    "ExistingPolicy",
    "Field",
    "FieldAccess",
    "FieldAssignment",
    "FieldGrant",
    "FieldMap",
    "FieldRoles",
    "FieldType",
    "FieldValue",
    "FilterOp",
    "Form",
    "FormSection",
    "Grant",
    "Label",
    "ListView",
    "MatchKind",
    "ObjectAction",
    "ObjectDef",
    "Outcome",
    "Position",
    "PublicForm",
    "Rollup",
    "RollupKind",
    "RuleSource",
    "Scope",
    "SortKey",
    "Stage",
    "Template",
    "Webhook",
]
