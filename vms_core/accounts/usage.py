"""When each API token was last used: recorded in memory, written to the catalog in batches.

Authentication reads the catalog and never writes it: writing ``last_used_us`` on every
request made every authenticated call fail (500) once the catalog's disk was full, and
costs a write per request besides. :class:`TokenUsage` keeps the newest time per token
and :meth:`TokenUsage.flush` (the server calls it every minute and at stop) writes them
in one statement; a failed flush is logged and retried later, never a request's failure.
The API shows the newer of the stored and the remembered time.
"""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.exc import SQLAlchemyError

from vms_core.db.engine import Database
from vms_core.db.models import ApiToken
from vms_core.timeutil import now_us

log = logging.getLogger(__name__)

# The table, not the ORM class: many parameter sets with a WHERE are a plain executemany.
_TOKENS = cast(Table, ApiToken.__table__)
_SET_LAST_USED = (
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("token_id"))
    .values(last_used_us=bindparam("used_us"))
)


class TokenUsage:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._unwritten: dict[int, int] = {}

    def touch(self, token_id: int, when_us: int | None = None) -> None:
        """Token ``token_id`` was used now (or at ``when_us``)."""
        when = now_us() if when_us is None else when_us
        self._unwritten[token_id] = max(when, self._unwritten.get(token_id, when))

    def last_used(self, token_id: int, stored_us: int | None) -> int | None:
        """The newer of the catalog's time (``stored_us``) and one not written yet."""
        remembered = self._unwritten.get(token_id)
        if remembered is None or (stored_us is not None and stored_us >= remembered):
            return stored_us
        return remembered

    async def flush(self) -> None:
        """Write the remembered times; keep them for the next try if the catalog refuses."""
        if not self._unwritten:
            return
        batch, self._unwritten = self._unwritten, {}
        rows = [{"token_id": token_id, "used_us": used} for token_id, used in batch.items()]
        try:
            async with self.db.session() as session:
                await session.execute(_SET_LAST_USED, rows)
        except SQLAlchemyError as exc:
            log.warning("could not record when %d API token(s) were last used: %s", len(rows), exc)
            for token_id, used in batch.items():
                self.touch(token_id, used)
