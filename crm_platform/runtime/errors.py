"""The record service's error tree: every error has a ``code`` the API maps to a status.

=================  ==========================  ======
error              code                        HTTP
=================  ==========================  ======
ValidationError    ``validation``              422
ConflictError      ``conflict``                409
NotFoundError      ``not_found``               404
QueryError         ``bad_query``               400
RecordLockedError  ``locked``                  409
ForbiddenError     ``forbidden``               403
StateError         ``invalid_state``           409
=================  ==========================  ======
"""

from __future__ import annotations


class RecordError(Exception):
    """Base of every error the record service raises on purpose."""

    code = "record_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(RecordError):
    """Values were refused; ``fields`` maps each field name to what is wrong with it.

    All problems of one write are collected before this is raised, so a form
    can show every message at once.
    """

    code = "validation"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        self.fields = dict(fields)
        summary = "; ".join(f"{name}: {problem}" for name, problem in self.fields.items())
        super().__init__(message or f"invalid values: {summary}")


class ConflictError(RecordError):
    """The caller edited ``version`` but the record is at ``current_version``; nothing was written."""

    code = "conflict"

    def __init__(self, object: str, id: int, version: int, current_version: int) -> None:
        self.object = object
        self.id = id
        self.version = version
        self.current_version = current_version
        super().__init__(
            f"{object} {id} was changed by someone else: you edited version {version}, "
            f"it is now at version {current_version}; reload and try again"
        )


class NotFoundError(RecordError):
    """No (live) record ``id`` of ``object``."""

    code = "not_found"

    def __init__(self, object: str, id: object, message: str | None = None) -> None:
        self.object = object
        self.id = id
        super().__init__(message or f"{object} {id} does not exist")


class QueryError(RecordError):
    """A filter, sort or cursor cannot be understood; ``field`` names the culprit."""

    code = "bad_query"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
        self.detail = message


class RecordLockedError(RecordError):
    """Record ``id`` of ``object`` may not be edited now (an approval is pending on it)."""

    code = "locked"

    def __init__(self, object: str, id: int, message: str) -> None:
        self.object = object
        self.id = id
        super().__init__(message)


class ForbiddenError(RecordError):
    """The actor may not do this (not an approver of the step, approving their own request, ...)."""

    code = "forbidden"


class StateError(RecordError):
    """The request does not fit the current state (a decided approval, a second pending one, ...)."""

    code = "invalid_state"
