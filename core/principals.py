"""Who is calling. Each kind is a distinct principal; later features add kinds, not meanings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PrincipalKind = Literal["person", "operator", "integration", "kiosk", "kiosk_session"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: int
    role: str | None = None  # operator: admin | publisher
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def is_admin(self) -> bool:
        return self.kind == "operator" and self.role == "admin"

    @property
    def is_publisher(self) -> bool:
        return self.kind == "operator" and self.role == "publisher"


def parse_subject(subject: str) -> tuple[str, int]:
    kind, _, raw_id = subject.partition(":")
    return kind, int(raw_id)
