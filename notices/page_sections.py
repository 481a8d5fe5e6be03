"""Wires the notices domain into the profiles domain: the page's `notices` and `policies`
sections (with the `notices_unread` and `policies_open` badges), re-matching on profile
changes, and the audit log's writer for profiles' own entries (kiosk hand-offs, via
`core.audit`). Profiles never imports notices; this module registers callbacks instead.

`install()` runs on import and is idempotent. Any process that changes profiles (the API, the
worker, `entpage import`/`seed`) must import this module, or standing notices and policies
would not find enterprises that qualify later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from core import audit
from notices import policies, policy_repository, repository, service
from profiles import repository as profiles_repository
from profiles.page import Section, register_section
from profiles.repository import EnterpriseChange
from profiles.service import on_profiles_changed

_installed = False


NOTICES = Section("notices", postgres_rows=repository.PAGE_INBOX_JSON,
                  fetch_rows=service.page_rows, details=service.page_details,
                  build=service.page_section)
POLICIES = Section("policies", postgres_rows=policy_repository.PAGE_MATCHES_JSON,
                   fetch_rows=policies.page_rows, details=policies.page_details,
                   build=policies.page_section)


async def rematch(changes: Sequence[EnterpriseChange]) -> int:
    """Standing notices and open policies find the enterprises that newly qualify; returns
    rows added."""
    return (await service.rematch_standing_notices(changes)
            + await policies.rematch_policies(changes))


async def rematch_changed_since(since: dt.datetime) -> int:
    """The repair sweep (run by the worker): matching again for every enterprise written since
    `since`. Re-matching is idempotent (only enterprises that qualify and were not reached are
    added), so this finds exactly what a failed or never-run profile-change listener missed:
    the listener runs after the profile's commit, and a crash or an error there is otherwise
    only logged. Returns rows added."""
    changes = await profiles_repository.changed_since(since)
    return await rematch(changes) if changes else 0


def install() -> None:
    global _installed
    register_section(NOTICES)
    register_section(POLICIES)
    audit.install_writer(service.write_audit)
    if not _installed:
        on_profiles_changed(rematch)
        _installed = True


install()
