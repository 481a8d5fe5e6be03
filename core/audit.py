"""Appending to the audit log (全程留痕) from domains that cannot import notices.

The append-only log is the notices domain's table (`notices.models.AuditEntry`), and notices
imports profiles, never the reverse. So profiles (kiosk hand-offs) records through this port
and notices installs the writer (`notices.page_sections.install()`, which the API, the worker
and the CLI already import to wire notices into profiles) — the same callback pattern as
`profiles.service.on_profiles_changed`. Moving the table here would split the log's model from
its reads and the publisher actions that write most of it.

Without a writer `append` raises: an action that must be audited never happens unaudited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """From where: the client address as the API resolved it (ENTPAGE_TRUSTED_PROXIES), the
    user agent and the request id."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    actor: str  # a principal's subject, e.g. "person:12", "kiosk:3"
    action: str  # "<area>.<what happened>", e.g. "kiosk.handoff_approved"
    object_type: str
    object_id: str
    summary: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = field(default_factory=Origin)
    department: str | None = None


Writer = Callable[[Entry], Awaitable[None]]

_writer: Writer | None = None


def install_writer(writer: Writer) -> None:
    global _writer
    _writer = writer


async def append(entry: Entry) -> None:
    """Append one entry in the caller's transaction (if any): the action and its record
    commit or roll back together."""
    if _writer is None:
        raise RuntimeError("No audit writer is installed; import notices.page_sections.")
    await _writer(entry)
