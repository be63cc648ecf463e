"""Bookmarks and evidence locks.

A bookmark marks a time range on one or more cameras (one row per camera); ``locked`` makes
it evidence: retention never deletes recordings a locked range touches. Locking and
unlocking are audited.

Every bookmark lies in the catalog's time range (``vms_core.limits``). A lock may reach at
most ``LOCK_MAX_AHEAD_US`` (24 h) past the moment it is set: what is already recorded can be
kept as long as the evidence needs, but recordings not made yet are kept only for an
incident still unfolding. Without that bound one lock over all time (0001..9999) kept every
future recording of a camera too, and retention could never free it again. The bound is
checked wherever a lock is set (the API, rules, plug-ins), also when an existing bookmark is
locked later.

Automatic locks (a rule's, a plug-in's: a gunshot locks the nearby cameras) expire after
``[evidence] automatic_lock_days`` unless a person locks the bookmark again; otherwise a
busy detector would, in time, lock every recording and retention could free nothing.
``expire_locks`` ends them (retention calls it before each pass); the bookmark stays,
unlocked, with its ``lock_expires`` time as the record of why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from vms_core.audit import AuditLog
from vms_core.db.engine import Database
from vms_core.db.models import Bookmark, Camera
from vms_core.limits import ID_MAX, LOCK_MAX_AHEAD_US, check_time_us
from vms_core.timeutil import iso, now_us


class BookmarkError(ValueError):
    pass


def check_lock_reach(end_us: int, now: int) -> None:
    """BookmarkError if a lock ending at ``end_us`` reaches too far past ``now``."""
    if end_us > now + LOCK_MAX_AHEAD_US:
        raise BookmarkError(
            f"end: a lock may reach at most {LOCK_MAX_AHEAD_US // 3_600_000_000} h past now "
            f"({iso(now + LOCK_MAX_AHEAD_US)}); recordings not made yet stay deletable"
        )


@dataclass(frozen=True)
class BookmarkRequest:
    camera_ids: list[int]
    start_us: int
    end_us: int
    reason: str
    lock: bool = False
    event_uid: str | None = None
    created_by: str = ""
    # Taken by a rule or plug-in rather than a person: the lock may expire.
    automatic: bool = False


TITLE_CHARS = 80


def bookmark_kind(created_by: str) -> str:
    """``automatic`` for bookmarks a plug-in or a rule made, ``operator`` for a person's."""
    return "automatic" if created_by.startswith(("plugin:", "rule:")) else "operator"


def bookmark_title(row: Bookmark) -> str:
    """A line a person reads at a glance. An operator's reason is already one; a machine's
    (``gunshot audio:2:2026-...: 41.76420,-72.67280``) becomes what made it and what it
    is, and the reason stays the detail."""
    what = "lock" if row.locked else "bookmark"
    if row.created_by.startswith("plugin:"):
        plugin = row.created_by.removeprefix("plugin:").replace("_", " ")
        return f"{plugin.capitalize()} alert · automatic {what}"
    if row.created_by.startswith("rule:"):
        rule = row.created_by.removeprefix("rule:")
        event_type = row.reason.rpartition(": ")[2] or rule
        return f"{event_type.replace('.', ' ').replace('_', ' ').capitalize()} · rule {rule}"
    line = row.reason.strip().splitlines()[0] if row.reason.strip() else "Bookmark"
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def bookmark_json(row: Bookmark) -> dict[str, Any]:
    return {
        "id": row.id,
        "camera_id": row.camera_id,
        "start": iso(row.start_us),
        "end": iso(row.end_us),
        "reason": row.reason,
        "title": bookmark_title(row),
        "kind": bookmark_kind(row.created_by),
        "locked": row.locked,
        "event_id": row.event_uid,
        "created_by": row.created_by,
        "created": iso(row.created_us),
        "lock_expires": iso(row.lock_expires_us),
    }


class BookmarkService:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        automatic_lock_us: Callable[[], int | None] = lambda: None,
    ) -> None:
        """``automatic_lock_us``: how long an automatic lock holds (None: until
        unlocked); read at each lock, so a configuration reload applies."""
        self.db = db
        self.audit = audit
        self.automatic_lock_us = automatic_lock_us

    async def create(self, req: BookmarkRequest, remote: str = "") -> list[Bookmark]:
        problems = []
        for name, value in (("start", req.start_us), ("end", req.end_us)):
            try:
                check_time_us(value, name)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise BookmarkError("; ".join(problems))
        if req.end_us <= req.start_us:
            raise BookmarkError("end: must be after start")
        if not req.camera_ids:
            raise BookmarkError("cameras: at least one camera")
        if req.lock:
            check_lock_reach(req.end_us, now_us())
        out_of_range = sorted(c for c in req.camera_ids if not 0 < c <= ID_MAX)
        if out_of_range:
            raise BookmarkError(f"cameras: no camera {', '.join(map(str, out_of_range))}")
        async with self.db.session() as session:
            known = set(
                await session.scalars(select(Camera.id).where(Camera.id.in_(req.camera_ids)))
            )
            unknown = sorted(set(req.camera_ids) - known)
            if unknown:
                raise BookmarkError(f"cameras: no camera {', '.join(map(str, unknown))}")
            lasts = self.automatic_lock_us() if req.lock and req.automatic else None
            expires = None if lasts is None else now_us() + lasts
            rows = [
                Bookmark(
                    camera_id=cid,
                    start_us=req.start_us,
                    end_us=req.end_us,
                    reason=req.reason,
                    locked=req.lock,
                    event_uid=req.event_uid,
                    created_by=req.created_by,
                    created_us=now_us(),
                    lock_expires_us=expires,
                )
                for cid in sorted(set(req.camera_ids))
            ]
            session.add_all(rows)
            await session.flush()
        if req.lock:
            await self.audit.record(
                "evidence.lock",
                username=req.created_by,
                remote=remote,
                target=",".join(str(r.id) for r in rows),
                detail={
                    "cameras": sorted(set(req.camera_ids)),
                    "start": iso(req.start_us),
                    "end": iso(req.end_us),
                    "reason": req.reason,
                    **({"expires": iso(expires)} if expires is not None else {}),
                },
            )
        return rows

    async def get(self, bookmark_id: int) -> Bookmark | None:
        async with self.db.session() as session:
            return await session.get(Bookmark, bookmark_id)

    async def set_locked(
        self, bookmark_id: int, locked: bool, username: str, remote: str = ""
    ) -> Bookmark | None:
        async with self.db.session() as session:
            row = await session.get(Bookmark, bookmark_id)
            if row is None:
                return None
            if locked and not row.locked:
                check_lock_reach(row.end_us, now_us())
            # A person locking an automatic lock makes it theirs: it no longer expires.
            confirmed = locked and row.locked and row.lock_expires_us is not None
            changed = row.locked != locked or confirmed
            row.locked = locked
            if locked:
                row.lock_expires_us = None
        if changed:
            await self.audit.record(
                "evidence.lock" if locked else "evidence.unlock",
                username=username,
                remote=remote,
                target=str(bookmark_id),
                detail={
                    "camera_id": row.camera_id,
                    "start": iso(row.start_us),
                    "end": iso(row.end_us),
                },
            )
        return row

    async def query(
        self,
        camera_ids: set[int] | None,
        start_us: int | None = None,
        end_us: int | None = None,
        locked: bool | None = None,
        limit: int = 500,
    ) -> list[Bookmark]:
        query = select(Bookmark).order_by(Bookmark.start_us.desc()).limit(limit)
        if camera_ids is not None:
            query = query.where(Bookmark.camera_id.in_(camera_ids))
        if start_us is not None:
            query = query.where(Bookmark.end_us >= start_us)
        if end_us is not None:
            query = query.where(Bookmark.start_us <= end_us)
        if locked is not None:
            query = query.where(Bookmark.locked == locked)
        async with self.db.session() as session:
            return list(await session.scalars(query))

    async def expire_locks(self) -> int:
        """Unlock the automatic locks whose time has come; returns how many."""
        now = now_us()
        async with self.db.session() as session:
            result = await session.execute(
                update(Bookmark)
                .where(
                    Bookmark.locked.is_(True),
                    Bookmark.lock_expires_us.is_not(None),
                    Bookmark.lock_expires_us <= now,
                )
                .values(locked=False)
                .returning(Bookmark.id, Bookmark.camera_id)
            )
            ended = list(result)
        if ended:
            await self.audit.record(
                "evidence.lock_expired",
                username="system",
                target=",".join(str(i) for i, _ in ended[:200]),
                detail={"bookmarks": len(ended), "cameras": sorted({c for _, c in ended})},
            )
        return len(ended)

    async def locked_ranges(self, camera_id: int) -> list[tuple[int, int]]:
        """Locked ranges of a camera, for retention."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Bookmark.start_us, Bookmark.end_us).where(
                    Bookmark.camera_id == camera_id, Bookmark.locked.is_(True)
                )
            )
            return [(int(s), int(e)) for s, e in rows]
