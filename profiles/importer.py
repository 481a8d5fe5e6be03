"""`entpage import FILE`: bulk-load enterprises from CSV or JSON Lines.

Every row is validated first and every problem reported with its row number, field and reason.
Then the valid rows are written in ONE transaction: a file is never half-written. By default a
file with any invalid row writes nothing; `skip_invalid=True` writes the valid rows only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ValidationFailed
from profiles import service
from profiles.schemas import EnterpriseInput, parse_enterprise

INT_COLUMNS = ("registered_capital_yuan", "last_annual_report_year")
MAX_ROW_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (CSV header excluded), or line number for JSON Lines
    field: str
    reason: str


@dataclass(slots=True)
class ImportResult:
    rows: int = 0
    valid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)


Problem = tuple[str, str]  # (field, reason)


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | None, Problem | None]]:
    reader = csv.DictReader(io.StringIO(text))
    for number, raw in enumerate(reader, start=1):
        if None in raw:
            yield number, None, ("row", "more values than header columns")
            continue
        row: dict[str, Any] = {k.strip(): (v.strip() if isinstance(v, str) else v)
                               for k, v in raw.items() if k is not None}
        row = {k: v for k, v in row.items() if v not in ("", None)}
        problem: Problem | None = None
        for column in INT_COLUMNS:
            if column in row:
                try:
                    row[column] = int(row[column])
                except ValueError:
                    problem = (column, "must be an integer")
        if "tags" in row:
            row["tags"] = [t.strip() for t in str(row["tags"]).split(";") if t.strip()]
        if "licences" in row:
            try:
                row["licences"] = json.loads(row["licences"])
            except json.JSONDecodeError:
                problem = ("licences", "must be a JSON list")
        yield number, row, problem


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | None, Problem | None]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, ("row", f"not valid JSON: {exc.msg}")
            continue
        if isinstance(value, dict):
            yield number, value, None
        else:
            yield number, None, ("row", "each line must be a JSON object")


def parse_file(path: Path, *, allow_legacy: bool,
               progress: Callable[[int], None] | None = None) -> tuple[list[EnterpriseInput], ImportResult]:
    text = path.read_text(encoding="utf-8-sig")
    rows = _jsonl_rows(text) if path.suffix.lower() in (".jsonl", ".ndjson") else _csv_rows(text)
    result = ImportResult()
    valid: list[EnterpriseInput] = []
    for number, row, problem in rows:
        result.rows += 1
        if progress and result.rows % 10_000 == 0:
            progress(result.rows)
        if row is None or problem:
            field, reason = problem or ("row", "unreadable row")
            result.errors.append(RowError(number, field, reason))
            continue
        uscc = row.get("uscc")
        try:
            valid.append(parse_enterprise(str(uscc or ""), row, allow_legacy=allow_legacy))
        except ValidationFailed as exc:
            for p in exc.problems or []:
                if len(result.errors) < MAX_ROW_ERRORS:
                    result.errors.append(RowError(number, p.field, p.reason))
    result.valid = len(valid)
    return valid, result


async def import_file(path: Path, *, source_system: str, allow_legacy: bool,
                      skip_invalid: bool = False,
                      progress: Callable[[str, int, int], None] | None = None) -> ImportResult:
    valid, result = parse_file(
        path, allow_legacy=allow_legacy,
        progress=(lambda n: progress("validated", n, 0)) if progress else None,
    )
    if result.errors and not skip_invalid:
        return result
    changes = await service.put_enterprises(
        valid, source_system=source_system,
        progress=(lambda done, total: progress("written", done, total)) if progress else None,
    )
    result.written = True
    result.created = sum(c.created for c in changes)
    result.updated = sum(bool(c.changed_fields) and not c.created for c in changes)
    result.unchanged = sum(not c.changed_fields for c in changes)
    return result
