"""Domain errors. They carry a stable machine code and the field at fault, never an HTTP status:
`api/errors.py` maps them to problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str  # a JSON pointer-ish path such as "licences/0/expires_on"
    reason: str
    code: str = "invalid"


class DomainError(Exception):
    code: str = "domain-error"
    title: str = "Request could not be completed"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        problems: list[FieldProblem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or ([FieldProblem(field, detail)] if field else [])
        self.field = field or (self.problems[0].field if self.problems else None)
        self.extra = extra or {}


class ValidationFailed(DomainError):
    code = "validation-failed"
    title = "The request contains invalid data"


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict with the current state"


class RateLimited(DomainError):
    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after_s})
        self.retry_after_s = retry_after_s
