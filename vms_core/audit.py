"""The audit log: who did what, when, from where. Admins read it through the API.

Each entry is written to the catalog at once. When the catalog cannot take it (a full
disk), the entry is kept in memory and written by the next :meth:`AuditLog.flush`, so
the action it records (a login, say) does not fail for want of room for its record; the
server log has the line either way.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from vms_core.db.engine import Database
from vms_core.db.models import AuditEntry
from vms_core.timeutil import now_us
from vms_core.untrusted import oneline

log = logging.getLogger("vms.audit")

# Entries kept while the catalog refuses writes; beyond this the oldest are dropped (and
# counted), so a long outage cannot grow memory without bound.
MAX_UNWRITTEN = 10_000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    time_us: int
    username: str
    action: str
    target: str
    success: bool
    remote: str
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._unwritten: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_UNWRITTEN)
        self.dropped = 0

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
        entry = {
            "time_us": now_us(),
            "username": username,
            "action": action,
            "target": target,
            "success": success,
            "remote": remote or "",
            "detail": detail or {},
        }
        # Client-supplied text (a login name, a path) cannot forge a log line.
        log.info(
            "%s %s %s %s",
            action,
            "ok" if success else "FAILED",
            oneline(username) or "-",
            oneline(target),
        )
        try:
            async with self.db.session() as session:
                session.add(AuditEntry(**entry))
        except OperationalError as exc:
            log.warning(
                "audit entry %s kept in memory: the catalog cannot be written (%s)",
                action,
                exc.orig,
            )
            self._keep([entry])

    def _keep(self, entries: list[dict[str, Any]]) -> None:
        room = MAX_UNWRITTEN - len(self._unwritten)
        self.dropped += max(0, len(entries) - room)
        self._unwritten.extend(entries)

    @property
    def unwritten(self) -> int:
        """Entries waiting for the catalog to take them."""
        return len(self._unwritten)

    async def flush(self) -> None:
        """Write the entries kept while the catalog refused them; on failure keep them."""
        if not self._unwritten:
            return
        batch = list(self._unwritten)
        self._unwritten.clear()
        try:
            async with self.db.session() as session:
                session.add_all(AuditEntry(**entry) for entry in batch)
        except SQLAlchemyError as exc:
            log.warning("%d audit entries still not written: %s", len(batch), exc)
            arrived_meanwhile = list(self._unwritten)
            self._unwritten.clear()
            self._keep(batch + arrived_meanwhile)
            return
        if self.dropped:
            log.warning("%d audit entries were lost while the catalog was full", self.dropped)
            self.dropped = 0

    async def entries(
        self,
        *,
        action: str | None = None,
        username: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int = 200,
    ) -> list[AuditRecord]:
        """Newest first. ``action``: exact, or a prefix ending in ``.``."""
        query = select(AuditEntry).order_by(AuditEntry.time_us.desc(), AuditEntry.id.desc())
        if action:
            query = query.where(
                AuditEntry.action.startswith(action)
                if action.endswith(".")
                else AuditEntry.action == action
            )
        if username:
            query = query.where(AuditEntry.username == username)
        if since_us is not None:
            query = query.where(AuditEntry.time_us >= since_us)
        if until_us is not None:
            query = query.where(AuditEntry.time_us <= until_us)
        async with self.db.session() as session:
            rows = list(await session.scalars(query.limit(limit)))
        return [
            AuditRecord(
                r.id, r.time_us, r.username, r.action, r.target, r.success, r.remote, r.detail
            )
            for r in rows
        ]
