"""Input checking that collects every problem with the path of the field at fault.

Payloads are plain JSON (parsed by the API edge); domain schemas turn them into frozen
dataclasses with these helpers and raise one ValidationFailed listing all problems.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from core.errors import FieldProblem, ValidationFailed

T = TypeVar("T")
_MISSING = object()
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Reader:
    """Reads fields of one JSON object, recording problems instead of raising at the first."""

    def __init__(self, payload: Any, *, path: str = "", problems: list[FieldProblem] | None = None):
        self.path = path
        self.problems: list[FieldProblem] = problems if problems is not None else []
        if not isinstance(payload, Mapping):
            self.problems.append(FieldProblem(path or "body", "must be a JSON object", "type"))
            payload = {}
        self.payload: Mapping[str, Any] = payload

    def at(self, name: str) -> str:
        return f"{self.path}/{name}" if self.path else name

    def fail(self, name: str, reason: str, code: str = "invalid") -> None:
        self.problems.append(FieldProblem(self.at(name), reason, code))

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        allowed_set = set(allowed)
        for key in self.payload:
            if key not in allowed_set:
                self.fail(key, "unknown field", "unknown-field")

    def _get(self, name: str, required: bool) -> Any:
        value = self.payload.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(name, "is required", "required")
            return _MISSING
        return value

    def string(self, name: str, *, required: bool = True, max_length: int = 200,
               min_length: int = 0, pattern: re.Pattern[str] | None = None) -> str | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string", "type")
            return None
        value = value.strip()
        if _CONTROL_CHARS.search(value):
            self.fail(name, "must not contain control characters")
            return None
        if len(value) < max(min_length, 1 if required else 0):
            self.fail(name, "must not be empty" if not value else f"must be at least {min_length} characters")
            return None
        if len(value) > max_length:
            self.fail(name, f"must be at most {max_length} characters", "too-long")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(name, "has an invalid format", "format")
            return None
        return value

    def choice(self, name: str, choices: Iterable[str], *, required: bool = True) -> str | None:
        options = tuple(choices)
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if value not in options:
            self.fail(name, f"must be one of: {', '.join(options)}", "choice")
            return None
        return str(value)

    def integer(self, name: str, *, required: bool = True, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be an integer", "type")
            return None
        if minimum is not None and value < minimum:
            self.fail(name, f"must be ≥ {minimum}", "range")
            return None
        if maximum is not None and value > maximum:
            self.fail(name, f"must be ≤ {maximum}", "range")
            return None
        return value

    def boolean(self, name: str, *, required: bool = False, default: bool = False) -> bool:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(name, "must be true or false", "type")
            return default
        return value

    def date(self, name: str, *, required: bool = True) -> dt.date | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a date string YYYY-MM-DD", "type")
            return None
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            self.fail(name, "must be a date YYYY-MM-DD", "format")
            return None
        if not (1900 <= parsed.year <= 2200):
            self.fail(name, "is out of range", "range")
            return None
        return parsed

    def datetime(self, name: str, *, required: bool = True) -> dt.datetime | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be an RFC 3339 timestamp", "type")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(name, "must be an RFC 3339 timestamp", "format")
            return None
        if parsed.tzinfo is None:
            self.fail(name, "must include a time zone offset", "format")
            return None
        return parsed.astimezone(dt.UTC)

    def string_list(self, name: str, *, required: bool = False, max_items: int = 50,
                    max_length: int = 32) -> list[str] | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(name, "must be a list of strings", "type")
            return None
        if len(value) > max_items:
            self.fail(name, f"must have at most {max_items} items", "too-long")
            return None
        result: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{name}/{index}", "must be a non-empty string", "type")
            elif len(item.strip()) > max_length:
                self.fail(f"{name}/{index}", f"must be at most {max_length} characters", "too-long")
            else:
                result.append(item.strip())
        return result

    def objects(self, name: str, *, max_items: int = 100) -> list[Reader]:
        value = self._get(name, False)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.fail(name, "must be a list", "type")
            return []
        if len(value) > max_items:
            self.fail(name, f"must have at most {max_items} items", "too-long")
            return []
        return [Reader(item, path=self.at(f"{name}/{i}"), problems=self.problems)
                for i, item in enumerate(value)]

    def has(self, name: str) -> bool:
        return name in self.payload

    def raise_if_failed(self, detail: str = "The request contains invalid data.") -> None:
        if self.problems:
            first = self.problems[0]
            raise ValidationFailed(
                f"{detail} {first.field}: {first.reason}", field=first.field,
                problems=list(self.problems),
            )
