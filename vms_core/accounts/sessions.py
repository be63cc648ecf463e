"""Web sessions: the ``vms_session`` cookie's server side.

A session is a catalog row keyed by the SHA-256 of the cookie, so a leaked database leaks
no cookie, sessions survive a restart, and any node of a shared catalog accepts them.

Logging in must work when the catalog cannot be written (a full disk): then the new
session is kept in memory, works at once on this server, and is written by the next
:meth:`SessionStore.flush` (every minute and at stop). Until then it is lost if the server
stops uncleanly, and other nodes do not know it; the operator sees a warning. Ending a
session that cannot be deleted yet is remembered the same way, so logout always works.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.accounts.store import sha256_hex
from vms_core.db.engine import Database
from vms_core.db.models import User, WebSession
from vms_core.timeutil import now_us

log = logging.getLogger(__name__)

# Sessions kept in memory while the catalog refuses writes; one per login, and logins are
# throttled, but a bound keeps a long outage from growing memory without limit.
MAX_UNWRITTEN = 10_000


class SessionsUnavailable(RuntimeError):
    """A session cannot be created: the catalog refuses writes and memory holds the most
    sessions it may."""


@dataclass(frozen=True)
class _Session:
    key: str  # SHA-256 of the cookie
    user_id: int
    created_us: int
    expires_us: int

    def row(self) -> WebSession:
        return WebSession(
            id=self.key,
            user_id=self.user_id,
            created_us=self.created_us,
            expires_us=self.expires_us,
        )


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._unwritten: dict[str, _Session] = {}
        self._ended: set[str] = set()  # keys whose rows could not be deleted yet

    async def create(self, user_id: int, hours: float) -> str:
        """A new session for ``user_id``; returns the cookie value.

        :raises SessionsUnavailable: when it can be neither written nor kept.
        """
        cookie = secrets.token_urlsafe(32)
        now = now_us()
        new = _Session(sha256_hex(cookie), user_id, now, now + int(hours * 3600 * 1_000_000))
        try:
            async with self.db.session() as session:
                session.add(new.row())
        except OperationalError as exc:
            if len(self._unwritten) >= MAX_UNWRITTEN:
                raise SessionsUnavailable("the catalog cannot be written") from exc
            log.warning(
                "session for user %d kept in memory: the catalog cannot be written (%s)",
                user_id,
                exc.orig,
            )
            self._unwritten[new.key] = new
        return cookie

    async def user_for(self, session: AsyncSession, cookie: str) -> User | None:
        """The enabled user of a live session, or ``None``. Reads only."""
        key = sha256_hex(cookie)
        if key in self._ended:
            return None
        kept = self._unwritten.get(key)
        if kept is not None:
            user_id, expires_us = kept.user_id, kept.expires_us
        else:
            row = await session.get(WebSession, key)
            if row is None:
                return None
            user_id, expires_us = row.user_id, row.expires_us
        if expires_us < now_us():
            return None
        user = await session.get(User, user_id)
        return None if user is None or user.disabled else user

    async def end(self, cookie: str) -> None:
        """Log out: the session stops working at once, written or not."""
        key = sha256_hex(cookie)
        self._unwritten.pop(key, None)
        try:
            async with self.db.session() as session:
                await session.execute(delete(WebSession).where(WebSession.id == key))
        except OperationalError as exc:
            log.warning("logout kept in memory: the catalog cannot be written (%s)", exc.orig)
            self._ended.add(key)

    async def end_all_of(
        self, session: AsyncSession, user_id: int, keep_cookie: str | None = None
    ) -> None:
        """End every session of ``user_id`` but the one of ``keep_cookie``, in ``session``
        (the caller's transaction, e.g. the password change that calls for it)."""
        keep = sha256_hex(keep_cookie) if keep_cookie else None
        condition = WebSession.user_id == user_id
        if keep is not None:
            condition = condition & (WebSession.id != keep)
        await session.execute(delete(WebSession).where(condition))
        for key in [k for k, s in self._unwritten.items() if s.user_id == user_id and k != keep]:
            del self._unwritten[key]

    async def flush(self) -> None:
        """Write the sessions kept in memory and delete the ended ones; on failure keep
        them for the next try."""
        if not self._unwritten and not self._ended:
            return
        written: Iterable[_Session] = list(self._unwritten.values())
        ended = set(self._ended)
        try:
            async with self.db.session() as session:
                if ended:
                    await session.execute(delete(WebSession).where(WebSession.id.in_(ended)))
                owners = {kept.user_id for kept in written}
                alive = set(await session.scalars(select(User.id).where(User.id.in_(owners))))
                for kept in written:
                    if kept.user_id in alive:  # a user deleted meanwhile keeps no session
                        # merge: a row written by an earlier, half-finished flush is no error.
                        await session.merge(kept.row())
        except SQLAlchemyError as exc:
            log.warning("sessions still not written to the catalog: %s", exc)
            return
        for kept in written:
            self._unwritten.pop(kept.key, None)
        self._ended -= ended
