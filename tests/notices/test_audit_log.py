"""The audit log is append-only in the database itself, not just by convention."""

from __future__ import annotations

import httpx
import pytest

from core.db import conn
from notices.models import AuditEntry
from tests.notices.helpers import make_world


async def test_audit_rows_cannot_be_updated_or_deleted(client: httpx.AsyncClient,
                                                       backend_name: str) -> None:
    w = await make_world(client, enterprises=False)
    await w.draft()
    entry = await AuditEntry.get(action="notice.created")
    with pytest.raises(Exception, match="append-only"):
        await conn().execute_query(
            "UPDATE audit_log SET actor = 'operator:0' WHERE id = " + str(int(entry.id))
        )
    if backend_name == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            await conn().execute_query("DELETE FROM audit_log")
    assert (await AuditEntry.get(id=entry.id)).actor == f"operator:{w.publisher_id}"
