"""`entpage import FILE`: per-row problems, and never a half-written file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from profiles.importer import import_file
from profiles.models import Enterprise, EnterpriseTag, Licence
from tests import factories as f

HEADER = ["uscc", "name", "zone", "region_code", "industry_code", "size",
          "registered_capital_yuan", "established_on", "tags"]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _row(uscc: str, **changes: str) -> list[str]:
    base = {"uscc": uscc, "name": "导入测试有限公司", "zone": "qianhai", "region_code": "440305",
            "industry_code": "I6513", "size": "small", "registered_capital_yuan": "1000000",
            "established_on": "2020-01-02", "tags": "高新技术企业;港澳投资企业"}
    base.update(changes)
    return [base[h] for h in HEADER]


async def test_a_file_with_bad_rows_writes_nothing_and_names_each_problem(
    db: None, tmp_path: Path, redis_client: object
) -> None:
    good = f.new_uscc()
    path = _csv(tmp_path / "in.csv", [
        _row(good),
        _row(f.new_uscc(), industry_code="Z99"),
        _row("91350100M000100Y44"),
        _row(f.new_uscc(), registered_capital_yuan="a lot"),
    ])
    result = await import_file(path, source_system="import", allow_legacy=False)
    assert not result.written
    problems = {(e.row, e.field) for e in result.errors}
    assert problems == {(2, "industry_code"), (3, "uscc"), (4, "registered_capital_yuan")}
    assert await Enterprise.all().count() == 0


async def test_skip_invalid_loads_the_valid_rows_with_tags(db: None, tmp_path: Path) -> None:
    good, bad = f.new_uscc(), f.new_uscc()
    path = _csv(tmp_path / "in.csv", [_row(good), _row(bad, zone="mars")])
    result = await import_file(path, source_system="import", allow_legacy=False, skip_invalid=True)
    assert (result.written, result.created, len(result.errors)) == (True, 1, 1)
    enterprise = await Enterprise.get(uscc=good)
    assert sorted(await EnterpriseTag.filter(enterprise=enterprise).values_list("tag", flat=True)) \
        == ["港澳投资企业", "高新技术企业"]
    again = await import_file(path, source_system="import", allow_legacy=False, skip_invalid=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


async def test_json_lines_with_licences(db: None, tmp_path: Path) -> None:
    uscc = f.new_uscc()
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({**f.enterprise_body(), "uscc": uscc, "licences": [
        {"kind": "food", "number": "JY9", "name": "食品经营许可证", "expires_on": "2027-03-01"}]},
        ensure_ascii=False) + "\n\n" + "{not json\n", encoding="utf-8")
    result = await import_file(path, source_system="import", allow_legacy=False)
    assert [(e.row, e.field) for e in result.errors] == [(3, "row")]
    assert await Enterprise.all().count() == 0
    path.write_text(path.read_text(encoding="utf-8").replace("{not json\n", ""), encoding="utf-8")
    result = await import_file(path, source_system="import", allow_legacy=False)
    assert result.created == 1
    assert await Licence.filter(enterprise__uscc=uscc).count() == 1


def test_cli_reports_rows_and_exits_nonzero(tmp_path: Path, settings: object) -> None:
    """The operator's view: the real `entpage import` command against the test database."""
    path = _csv(tmp_path / "bad.csv", [_row(f.new_uscc(), industry_code="Z99")])
    proc = subprocess.run([sys.executable, "-m", "core.cli", "import", str(path)],
                          capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert proc.returncode == 1
    assert "row 1: industry_code:" in proc.stdout
    assert "nothing was written" in proc.stderr


