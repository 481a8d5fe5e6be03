"""Notice models (filled by the notices issue)."""

from __future__ import annotations
