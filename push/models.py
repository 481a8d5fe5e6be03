"""Push models (filled by the push issue)."""

from __future__ import annotations
