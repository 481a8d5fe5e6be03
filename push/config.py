"""Push settings read from the environment (documented in README by the lead):

- `ENTPAGE_REMINDER_OFFSETS` — days before a deadline at which reminders are pushed, comma
  separated (default "30,7,1").
- `ENTPAGE_WECHAT_TEMPLATES` — subscription-message template id per push kind,
  `kind=template_id` pairs, comma separated (defaults: `tpl-notice`, `tpl-warning`,
  `tpl-reminder`, `tpl-policy`, the ids the fake WeChat server and the mini-program stubs use).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from push.models import PUSH_KINDS

DEFAULT_REMINDER_OFFSETS = (30, 7, 1)
DEFAULT_WECHAT_TEMPLATES: Mapping[str, str] = {kind: f"tpl-{kind}" for kind in PUSH_KINDS}


def parse_offsets(raw: str) -> tuple[int, ...]:
    """"30,7,1" → (30, 7, 1): distinct non-negative days, largest first."""
    try:
        values = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as exc:
        raise RuntimeError(f"ENTPAGE_REMINDER_OFFSETS must be integers, got {raw!r}") from exc
    if not values or min(values) < 0 or max(values) > 366:
        raise RuntimeError(f"ENTPAGE_REMINDER_OFFSETS must be days within 0..366, got {raw!r}")
    return tuple(sorted(values, reverse=True))


def parse_templates(raw: str) -> dict[str, str]:
    templates = dict(DEFAULT_WECHAT_TEMPLATES)
    for pair in raw.split(","):
        if not pair.strip():
            continue
        kind, sep, template_id = pair.partition("=")
        if not sep or kind.strip() not in PUSH_KINDS or not template_id.strip():
            raise RuntimeError(
                f"ENTPAGE_WECHAT_TEMPLATES entries are kind=template_id with kind in "
                f"{', '.join(PUSH_KINDS)}; got {pair!r}"
            )
        templates[kind.strip()] = template_id.strip()
    return templates


@dataclass(frozen=True, slots=True)
class PushConfig:
    reminder_offsets: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS
    wechat_templates: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_WECHAT_TEMPLATES)
    )

    def template_for(self, kind: str) -> str:
        return self.wechat_templates.get(kind, self.wechat_templates["notice"])


@functools.lru_cache(maxsize=1)
def push_config() -> PushConfig:
    offsets = os.environ.get("ENTPAGE_REMINDER_OFFSETS", "").strip()
    return PushConfig(
        reminder_offsets=parse_offsets(offsets) if offsets else DEFAULT_REMINDER_OFFSETS,
        wechat_templates=parse_templates(os.environ.get("ENTPAGE_WECHAT_TEMPLATES", "")),
    )
