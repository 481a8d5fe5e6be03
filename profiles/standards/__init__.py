"""Data standards: USCC (GB 32100-2015), industries (GB/T 4754-2017), enterprise size (2017 办法),
and the calendar of record (Asia/Shanghai, 企业年报 window, Chinese working days).

Pure Python: no database, no web framework. Reference tables are versioned data files under
data/, read with importlib.resources and cached for the life of the process.
"""

from __future__ import annotations

from profiles.standards.calendar import (
    TIMEZONE,
    AnnualReportStatus,
    add_working_days,
    annual_report_status,
    annual_report_window,
    count_working_days,
    instant_information_deadline,
    is_working_day,
    today_in_shanghai,
)
from profiles.standards.industry import (
    Industry,
    IndustryNode,
    IndustryTable,
    UnknownIndustry,
    industry_table,
)
from profiles.standards.size import SizeClass, classify_size
from profiles.standards.uscc import (
    InvalidUscc,
    Uscc,
    compute_check_char,
    generate_uscc,
    parse_uscc,
)

__all__ = [
    "TIMEZONE",
    "AnnualReportStatus",
    "Industry",
    "IndustryNode",
    "IndustryTable",
    "InvalidUscc",
    "SizeClass",
    "UnknownIndustry",
    "Uscc",
    "add_working_days",
    "annual_report_status",
    "annual_report_window",
    "classify_size",
    "compute_check_char",
    "count_working_days",
    "generate_uscc",
    "industry_table",
    "instant_information_deadline",
    "is_working_day",
    "parse_uscc",
    "today_in_shanghai",
]
