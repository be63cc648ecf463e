"""The audit log: who did what, when, from where. Admins read it through the API."""

from __future__ import annotations

import logging
from typing import Any

from vms_core.db.engine import Database
from vms_core.db.models import AuditEntry
from vms_core.timeutil import now_us

log = logging.getLogger("vms.audit")


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        action: str,
        *,
        username: str = "",
        target: str = "",
        success: bool = True,
        remote: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one row. Actions are dotted names: ``auth.login``, ``live.start``..."""
        async with self.db.session() as session:
            session.add(
                AuditEntry(
                    time_us=now_us(),
                    username=username,
                    action=action,
                    target=target,
                    success=success,
                    remote=remote or "",
                    detail=detail or {},
                )
            )
        log.info("%s %s %s %s", action, "ok" if success else "FAILED", username or "-", target)
