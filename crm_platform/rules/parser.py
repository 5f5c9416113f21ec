"""Rule text -> :class:`~crm_platform.rules.ast.Rule`, with errors people can act on.

The grammar lives in ``grammar.lark``; the parser is built once and cached. lark's
own messages ("Unexpected token Token('NAME', 'idel') ... Expected one of: ...")
are turned into sentences that name what was expected, after which word, with a
"did you mean" where a keyword was misspelt::

    expected a trigger (created, updated, deleted, .FIELD changes, enters stage, idle,
    every) after 'opportunity', got 'idel'; did you mean 'idle'?
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from decimal import Decimal
from functools import cache

from lark import Lark, Token, Tree, UnexpectedInput
from lark.lexer import PatternStr

from crm_platform.metadata.expressions import FUNCTIONS, ExpressionError, parse_expression
from crm_platform.metadata.suggest import closest, did_you_mean

from . import ast
from .errors import RuleError, RuleReferenceError, RuleSyntaxError

#: Rules are sentences; anything longer is a mistake (or an attack on the parser).
MAX_RULE_LENGTH = 4000
#: Largest number a rule may hold (idle minutes, days, ...): about 270 years of days.
MAX_AMOUNT = 100_000


@cache
def _lark() -> Lark:
    # keep_all_tokens: keywords stay in the tree, so every node (even `move to pool`)
    # has a position and the builder can tell `created` from `deleted` by token type.
    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        keep_all_tokens=True,
        propagate_positions=True,
    )


def parse_rule(text: str) -> ast.Rule:
    """Parse one rule sentence into its syntax tree (nothing is checked against a blueprint).

    >>> parse_rule("opportunity idle 3 days -> notify manager").trigger == ast.Idle(3, "days")
    True

    Raises :class:`~crm_platform.rules.errors.RuleSyntaxError` (or a
    :class:`~crm_platform.rules.errors.RuleReferenceError` for an unknown function
    in an expression) with the line and column of the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError("a rule is empty; expected 'OBJECT TRIGGER -> ACTION'", 1)
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(f"a rule is longer than {MAX_RULE_LENGTH} characters", 1)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _friendly(text, exc) from None
    return _Builder(text).rule(tree.children[0])


# ------------------------------------------------------------------ friendly syntax errors

_TRIGGERS = frozenset({"CREATED", "UPDATED", "DELETED", "DOT", "ENTERS", "IDLE", "EVERY"})
_ACTIONS = frozenset({"NOTIFY", "EMAIL", "CREATE", "SET", "ASSIGN", "MOVE", "START", "CALL"})
_RECIPIENTS = frozenset({"OWNER", "MANAGER", "ROLE", "TEAM", "USER", "CONTACT", "NAME"})
_TIME_UNITS = frozenset({"MINUTE", "MINUTES", "HOUR", "HOURS", "DAY", "DAYS"})
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_PERIODS = frozenset({"DAY", "WEEKDAY", *_WEEKDAYS})

#: Sets of terminals that stand for one idea, described once (checked largest first).
_GROUPS: tuple[tuple[frozenset[str], str], ...] = (
    (
        _TRIGGERS,
        "a trigger (created, updated, deleted, .FIELD changes, enters stage, idle, every)",
    ),
    (
        _ACTIONS,
        "an action (notify, email, create task, create OBJECT, set, assign, move to pool, "
        "start approval, call webhook)",
    ),
    (
        _RECIPIENTS,
        'a recipient (owner, manager, role NAME, team NAME, user "EMAIL", contact or a user field)',
    ),
    (_PERIODS, "day, weekday or a day of the week (monday to sunday)"),
    (_TIME_UNITS, "a unit (minutes, hours or days)"),
    (frozenset({"NAME", "INT"}), "an object name (or 'N days before/after OBJECT.FIELD')"),
    (frozenset({"STRING", "NUMBER", "NAME"}), "a value (a quoted text, a number or a name)"),
    (frozenset({"DAY", "DAYS"}), "'days'"),
    (frozenset({"TEAM", "ROLE"}), "'team' or 'role'"),
)

#: What a lone NAME, INT or STRING means, by the word before it.
_HINTS: dict[tuple[str, str], str] = {
    ("NAME", "STAGE"): "a stage name",
    ("NAME", "APPROVAL"): "an approval name",
    ("NAME", "WEBHOOK"): "a webhook name",
    ("NAME", "BY"): "a field name",
    ("NAME", "SET"): "a field name",
    ("NAME", "DOT"): "a field name",
    ("NAME", "LBRACE"): "a field name",
    ("NAME", "COMMA"): "a field name",
    ("NAME", "ROLE"): "a role name",
    ("NAME", "TEAM"): "a team name",
    ("NAME", "AFTER"): "OBJECT.DATE_FIELD",
    ("NAME", "BEFORE"): "OBJECT.DATE_FIELD",
    ("INT", "IDLE"): "a number (as in 'idle 3 days')",
    ("INT", "IN"): "a number of days (as in 'due in 2 days')",
    ("STRING", "USER"): 'an e-mail address in quotes (as in user "ann@example.com")',
    ("STRING", "TASK"): 'a task title in quotes (as in create task "Call back")',
}

_TERMINALS = {
    "NAME": "a name",
    "INT": "a whole number",
    "NUMBER": "a number",
    "STRING": "a quoted text",
    "TIME": "a time HH:MM",
    "CONDITION": "a condition (as in 'if status == \"new\"')",
    "EXPR": "a value (an expression)",
    "VALUE": "a value (an expression)",
    "ARROW": "'->'",
    "$END": "the end of the rule",
}

_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
_WORD_AT = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?|->|=>|[=!<>]=|[A-Za-z0-9_]+|\S")


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def _describe(accepts: set[str], before: Token | None) -> str:
    accepts = set(accepts)
    if len(accepts) == 1 and before is not None:
        hint = _HINTS.get((next(iter(accepts)), before.type))
        if hint:
            return hint
        if accepts == {"STRING"}:
            # Besides `user` and `task`, only `email RECIPIENT` wants nothing but a quoted text.
            return 'a template name in quotes (as in "csat_survey")'
    parts: list[str] = []
    for group, text in _GROUPS:
        if group <= accepts:
            parts.append(text)
            accepts -= group
    for name in sorted(accepts, key=_order):
        if name in _TERMINALS:
            parts.append(_TERMINALS[name])
        else:
            parts.append(f"'{_literal(name) or name.lower()}'")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _order(terminal: str) -> tuple[int, str]:
    """Things (a quoted text) before keywords before punctuation before the end."""
    if terminal == "$END":
        return 3, terminal
    if terminal in _TERMINALS:
        return (2 if terminal == "ARROW" else 0), terminal
    literal = _literal(terminal) or ""
    return (1 if literal.isalpha() else 2), literal


def _literal(terminal: str) -> str | None:
    """The fixed text of a keyword or punctuation terminal ("IDLE" -> "idle")."""
    try:
        pattern = _lark().get_terminal(terminal).pattern
    except KeyError:
        return None
    return pattern.value if isinstance(pattern, PatternStr) else None


def _keywords(accepts: set[str]) -> list[str]:
    return [word for word in map(_literal, accepts) if word and word.isalpha()]


def _last_token(stack: list[object]) -> Token | None:
    for item in reversed(stack):
        if isinstance(item, Token):
            return item
        if isinstance(item, Tree):
            tokens = list(item.scan_values(lambda v: isinstance(v, Token)))
            if tokens:
                return tokens[-1]
    return None


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _friendly(text: str, exc: UnexpectedInput) -> RuleSyntaxError:
    """Turn lark's error into 'expected X after 'w', got 'y'' at the offending column."""
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        offset = len(text.rstrip())
    elif token is not None and token.start_pos is not None:
        offset = token.start_pos
    else:
        offset = exc.pos_in_stream or 0
    interactive = getattr(exc, "interactive_parser", None)
    accepts: set[str] = set(interactive.accepts()) if interactive else set()
    accepts = accepts or set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    before = _last_token(interactive.parser_state.value_stack) if interactive else None

    what = _describe(accepts, before)
    where = f" after '{_short(before.value)}'" if before is not None else " at the start of the rule"
    match = _WORD_AT.match(text, offset)
    got_word = match.group(0) if match else ""
    got = f"'{_short(got_word)}'" if got_word else "the end of the rule"
    message = f"expected {what}{where}, got {got}"
    if got_word[:1] in ("'", '"') and not _STRING.fullmatch(got_word):
        message = f"a quoted text is not closed: add {got_word[0]} at its end"
    if got_word.isidentifier():
        if accepts >= _TRIGGERS and re.match(r"\s*changes\b", text[offset + len(got_word) :]):
            message += f"; a field change is written '{before}.{got_word} changes'"
        else:
            message += did_you_mean(got_word, _keywords(accepts))
    line, column = _line_column(text, offset)
    return RuleSyntaxError(message, column, line)


# ------------------------------------------------------------------ tree -> AST

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ESCAPE = re.compile(r"\\(.)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unquote(raw: str) -> str:
    return _ESCAPE.sub(lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw[1:-1])


def _tokens(tree: Tree, kind: str) -> list[Token]:
    return [c for c in tree.children if isinstance(c, Token) and c.type == kind]


def _subtree(tree: Tree, data: str) -> Tree | None:
    return next((c for c in tree.children if isinstance(c, Tree) and c.data == data), None)


def _at(node: Tree | Token) -> dict[str, int]:
    if isinstance(node, Token):
        return {"line": node.line or 1, "column": node.column or 1}
    return {"line": node.meta.line, "column": node.meta.column}


class _Builder:
    """Builds AST nodes from lark's tree; parses the expressions and texts inside it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def rule(self, tree: Tree) -> ast.Rule:
        trigger_tree = tree.children[0]
        obj, trigger = self.trigger(trigger_tree)
        condition_tree = _subtree(tree, "condition")
        condition = self.expr(_tokens(condition_tree, "CONDITION")[0]) if condition_tree else None
        actions = tuple(
            self.action(c)
            for c in tree.children
            if isinstance(c, Tree) and c is not trigger_tree and c is not condition_tree
        )
        return ast.Rule(
            object=obj.value,
            trigger=trigger,
            condition=condition,
            actions=actions,
            text=self.text,
            object_column=obj.column or 1,
            line=1,
            column=1,
        )

    # -------------------------------------------------------------- triggers

    def trigger(self, tree: Tree) -> tuple[Token, ast.Trigger]:
        names = _tokens(tree, "NAME")
        at = _at(tree)
        match tree.data:
            case "created" | "updated" | "deleted":
                return names[0], ast.RecordEvent(str(tree.data), **at)
            case "changes":
                old, new = _subtree(tree, "change_from"), _subtree(tree, "change_to")
                return names[0], ast.FieldChange(
                    names[1].value,
                    self.literal(old) if old else None,
                    self.literal(new) if new else None,
                    name_column=names[1].column,
                    **at,
                )
            case "enters_stage":
                return names[0], ast.StageEntered(names[1].value, name_column=names[1].column, **at)
            case "idle":
                amount = self.amount(_tokens(tree, "INT")[0], minimum=1)
                unit = _unit(tree.children[-1])
                return names[0], ast.Idle(amount, unit, **at)
            case "date_relative":
                days = self.amount(_tokens(tree, "INT")[0])
                direction = _subtree(tree, "direction").children[0].value  # type: ignore[union-attr]
                return names[0], ast.DateOffset(
                    days, direction, names[1].value, name_column=names[1].column, **at
                )
            case "schedule":
                period = _subtree(tree, "period").children[0].value  # type: ignore[union-attr]
                return names[0], ast.Schedule(period, self.time(_tokens(tree, "TIME")[0]), **at)
        raise AssertionError(tree.data)  # pragma: no cover - the grammar has no other trigger

    def literal(self, tree: Tree) -> ast.Literal:
        token = tree.children[1].children[0]  # type: ignore[union-attr]
        at = _at(token)
        if token.type == "STRING":
            return ast.Literal(_unquote(token.value), "text", **at)
        if token.type == "NUMBER":
            value = Decimal(token.value) if "." in token.value else int(token.value)
            return ast.Literal(value, "number", **at)
        if token.value in ("true", "false"):
            return ast.Literal(token.value == "true", "boolean", **at)
        return ast.Literal(token.value, "word", **at)

    def amount(self, token: Token, minimum: int = 0) -> int:
        value = int(token.value)
        if not minimum <= value <= MAX_AMOUNT:
            raise RuleSyntaxError(
                f"expected a number from {minimum} to {MAX_AMOUNT}, got {token.value}",
                token.column or 1,
                token.line or 1,
            )
        return value

    def time(self, token: Token) -> dt.time:
        hours, minutes = (int(part) for part in token.value.split(":"))
        if hours > 23 or minutes > 59:
            raise RuleSyntaxError(
                f"expected a time from 00:00 to 23:59, got '{token.value}'",
                token.column or 1,
                token.line or 1,
            )
        return dt.time(hours, minutes)

    # -------------------------------------------------------------- pieces

    def text_(self, token: Token) -> ast.Text:
        placeholders = []
        for match in _PLACEHOLDER.finditer(token.value):
            column = (token.column or 1) + match.start()
            name = match.group(1)
            if not _IDENTIFIER.fullmatch(name):
                raise RuleSyntaxError(
                    f"expected a field name in braces (as in {{company}}), got '{{{name}}}'",
                    column,
                    token.line or 1,
                )
            placeholders.append(ast.Placeholder(name, line=token.line or 1, column=column))
        return ast.Text(_unquote(token.value), tuple(placeholders), **_at(token))

    def expr(self, token: Token) -> ast.Expr:
        text = token.value.rstrip()
        line, start = token.line or 1, token.column or 1
        try:
            # Python only warns about "\_" in a quoted text; a rule should say so plainly instead.
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)
                warnings.simplefilter("error", SyntaxWarning)
                expression = parse_expression(text)
        except ExpressionError as exc:
            raise _expression_error(text, exc, line, start) from None
        except (RecursionError, MemoryError, ValueError, SyntaxError, Warning):
            # Python's own parser gives up on absurd nesting; say so instead of crashing.
            raise RuleSyntaxError("expression is too deeply nested", start, line) from None
        return ast.Expr(text, expression, line=line, column=start)

    def recipient(self, tree: Tree) -> ast.Recipient:
        at = _at(tree)
        kind = ast.RecipientKind(str(tree.data))
        if kind is ast.RecipientKind.USER:
            token = _tokens(tree, "STRING")[0]
            return ast.Recipient(kind, _unquote(token.value), name_column=token.column or 1, **at)
        names = _tokens(tree, "NAME")
        if names:
            return ast.Recipient(kind, names[-1].value, name_column=names[-1].column or 1, **at)
        return ast.Recipient(kind, name_column=at["column"], **at)

    # -------------------------------------------------------------- actions

    def action(self, tree: Tree) -> ast.Action:
        at = _at(tree)
        names = _tokens(tree, "NAME")
        strings = _tokens(tree, "STRING")
        recipient_tree = next(
            (c for c in tree.children if isinstance(c, Tree) and c.data in _RECIPIENT_KINDS),
            None,
        )
        match tree.data:
            case "notify":
                recipient = self.recipient(recipient_tree)  # type: ignore[arg-type]
                return ast.Notify(recipient, self.text_(strings[0]) if strings else None, **at)
            case "email":
                recipient = self.recipient(recipient_tree)  # type: ignore[arg-type]
                return ast.Email(recipient, _unquote(strings[0].value), name_column=strings[0].column, **at)
            case "create_task":
                task_for, task_due = _subtree(tree, "task_for"), _subtree(tree, "task_due")
                return ast.CreateTask(
                    self.text_(strings[0]),
                    self.recipient(task_for.children[1]) if task_for else None,  # type: ignore[arg-type]
                    self.amount(_tokens(task_due, "INT")[0]) if task_due else None,
                    **at,
                )
            case "create_record":
                values = tuple(
                    ast.FieldValue(_tokens(c, "NAME")[0].value, self.expr(_tokens(c, "VALUE")[0]), **_at(c))
                    for c in tree.children
                    if isinstance(c, Tree) and c.data == "field_value"
                )
                return ast.CreateRecord(names[0].value, values, name_column=names[0].column, **at)
            case "set_field":
                value = self.expr(_tokens(tree, "EXPR")[0])
                return ast.SetField(names[0].value, value, name_column=names[0].column, **at)
            case "assign_to":
                return ast.AssignTo(self.recipient(recipient_tree), **at)  # type: ignore[arg-type]
            case "assign_by":
                return ast.AssignBy(names[0].value, name_column=names[0].column, **at)
            case "assign_round_robin":
                group = _subtree(tree, "group").children[0].value  # type: ignore[union-attr]
                return ast.AssignRoundRobin(group, names[0].value, name_column=names[0].column, **at)
            case "move_to_pool":
                return ast.MoveToPool(**at)
            case "start_approval":
                return ast.StartApproval(names[0].value, name_column=names[0].column, **at)
            case "call_webhook":
                return ast.CallWebhook(names[0].value, name_column=names[0].column, **at)
        raise AssertionError(tree.data)  # pragma: no cover - the grammar has no other action


def _unit(tree: Tree) -> str:
    word = tree.children[0].value  # type: ignore[union-attr]
    return word if word.endswith("s") else word + "s"


_RECIPIENT_KINDS = frozenset(kind.value for kind in ast.RecipientKind)
_UNKNOWN_FUNCTION = re.compile(r"unknown function '([^']*)'")


def _expression_error(text: str, exc: ExpressionError, line: int, start: int) -> RuleError:
    column = start + max(exc.column, 1) - 1
    unknown = _UNKNOWN_FUNCTION.match(exc.message)
    if unknown:
        name = unknown.group(1)
        known = sorted(FUNCTIONS)
        return RuleReferenceError(
            f"unknown function '{name}'; expected one of: {', '.join(known)}{did_you_mean(name, known)}",
            column,
            line,
            kind="function",
            name=name,
            expected=known,
            suggestion=closest(name, known),
        )
    index = max(exc.column, 1) - 1
    if text[index : index + 1] == "=" and text[index : index + 2] != "==":
        return RuleSyntaxError("expected '==' to compare, got '='", column, line)
    return RuleSyntaxError(exc.message, column, line)
