"""The alarm queue: events that need a person, handled by the shift together.

An event at or above ``[alarms] min_severity`` (a gunshot, a hotlist hit) becomes an
alarm when it is stored. Operators acknowledge it ("I am on it"), assign it, add notes and
close it. The state lives in the catalog, so every operator sees the same queue; every
change is audited and broadcast to every live event stream (SSE ``event: alarm``), so
consoles update without polling.

Two operators acting at once: a change is a conditional UPDATE on the state it expects
(``new`` for an acknowledgement, not ``closed`` for the rest), so exactly one wins and
the other gets an :class:`AlarmError` (409) naming who was first.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from vms_sdk import Event

from vms_core.alarms.thumbnails import CameraPictures, NoPicture
from vms_core.audit import AuditLog
from vms_core.config.settings import AlarmSettings
from vms_core.db.engine import Database
from vms_core.db.models import Alarm, AlarmNote, User
from vms_core.db.models import Event as EventRow
from vms_core.events.bus import SEVERITY_RANK, Broadcast, EventBus, event_json
from vms_core.events.search import Cursor, visible_clause
from vms_core.tasks import cancel_and_wait
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)

STATES = ("new", "acknowledged", "closed")
OPEN_STATES = ("new", "acknowledged")
MAX_NOTE_CHARS = 2000
MAX_NOTES = 200  # per alarm: a queue entry, not a chat room
STOP_GRACE_S = 2.0


class AlarmError(Exception):
    """A request about an alarm that cannot be done: ``status`` 404 (no such alarm, or
    one the caller may not see), 409 (its state does not allow it), 400 (bad input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: their name (for the record) and the cameras they may see (None: all)."""

    username: str
    visible: frozenset[int] | None
    remote: str = ""


@dataclass(frozen=True, slots=True)
class AlarmPage:
    alarms: list[dict[str, Any]]
    next: Cursor | None


class AlarmService:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        bus: EventBus,
        settings: Callable[[], AlarmSettings],
        pictures: CameraPictures | None,
        folder: Path,
    ) -> None:
        self.db = db
        self.audit = audit
        self.bus = bus
        self.settings = settings  # read on every event: [alarms] applies on reload
        self.pictures = pictures
        self.folder = folder
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Alarms whose picture was being taken when the server last stopped get none (the
        moment has passed for a live picture; an operator still sees the alarm)."""
        async with self.db.session() as session:
            await session.execute(
                update(Alarm)
                .where(Alarm.thumbnail == "pending")
                .values(thumbnail="none", thumbnail_note="the server stopped before taking it")
            )

    async def stop(self) -> None:
        """End the thumbnails being taken; later alarms get none (the server stops).

        A picture task gets a moment to finish first: cancelled inside a catalog query, it
        would leave the database driver to roll back under a second cancellation (which
        SQLAlchemy logs as an error). What is still running after that waits on a camera
        or a sleep, where cancelling is clean."""
        self._stopped = True
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in pending:
            await cancel_and_wait(task)

    async def drain(self) -> None:
        """Wait for the thumbnails being taken (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- new alarms --------------------------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        """EventBus listener: queue the event when it is severe enough."""
        settings = self.settings()
        if SEVERITY_RANK[str(event.severity)] < SEVERITY_RANK[settings.min_severity]:
            return
        async with self.db.session() as session:
            row = await session.scalar(select(EventRow).where(EventRow.uid == event.id))
            if row is None:
                return  # deleted in between (a camera removed with its events)
            if await session.scalar(select(Alarm.id).where(Alarm.event_id == row.id)):
                return
            now = now_us()
            alarm = Alarm(
                event_id=row.id,
                time_us=row.time_us,
                severity=row.severity,
                state="new",
                created_us=now,
                updated_us=now,
                thumbnail="pending" if self._wants_thumbnail(row) else "none",
                thumbnail_note="" if self._wants_thumbnail(row) else "no camera",
            )
            session.add(alarm)
            await session.flush()
            alarm_id = alarm.id
        if not settings.thumbnails:
            await self._set_thumbnail(alarm_id, "none", "thumbnails are off in [alarms]")
        await self._announce(alarm_id)
        if settings.thumbnails and self._wants_thumbnail(row) and not self._stopped:
            task = asyncio.create_task(self._take_thumbnail(alarm_id, row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _wants_thumbnail(self, row: EventRow) -> bool:
        return self.pictures is not None and bool(row.camera_ids)

    # -- reading -----------------------------------------------------------------------------
    async def page(
        self,
        visible: frozenset[int] | None,
        states: Sequence[str] = OPEN_STATES,
        limit: int = 100,
        after: Cursor | None = None,
    ) -> AlarmPage:
        """Alarms in ``states``, newest event first."""
        query = (
            self._joined(visible)
            .where(Alarm.state.in_(states))
            .order_by(Alarm.time_us.desc(), Alarm.id.desc())
        )
        if after is not None:
            query = query.where(
                or_(
                    Alarm.time_us < after.time_us,
                    and_(Alarm.time_us == after.time_us, Alarm.id < after.row_id),
                )
            )
        async with self.db.session() as session:
            pairs = list(await session.execute(query.limit(limit + 1)))
            more = len(pairs) > limit
            pairs = pairs[:limit]
            notes = await self._notes(session, [a.id for a, _ in pairs])
        last = pairs[-1][0] if more and pairs else None
        return AlarmPage(
            [alarm_json(a, self._event(e), notes.get(a.id, [])) for a, e in pairs],
            Cursor(last.time_us, last.id) if last is not None else None,
        )

    async def counts(self, visible: frozenset[int] | None) -> dict[str, int]:
        """Open alarms by state, for the console's badge."""
        query = (
            select(Alarm.state, func.count())
            .join(EventRow, EventRow.id == Alarm.event_id)
            .where(Alarm.state.in_(OPEN_STATES))
            .group_by(Alarm.state)
        )
        if visible is not None:
            query = query.where(visible_clause(visible))
        async with self.db.session() as session:
            found = {str(s): int(n) for s, n in await session.execute(query)}
        return {state: found.get(state, 0) for state in OPEN_STATES}

    async def get(self, alarm_id: int, visible: frozenset[int] | None) -> dict[str, Any]:
        async with self.db.session() as session:
            found = (
                await session.execute(self._joined(visible).where(Alarm.id == alarm_id))
            ).first()
            if found is None:
                raise AlarmError(404, f"no alarm {alarm_id}")
            alarm, event = found
            notes = await self._notes(session, [alarm.id])
        return alarm_json(alarm, self._event(event), notes.get(alarm.id, []))

    def _event(self, row: EventRow) -> dict[str, Any]:
        """The alarm's event as the API shows it; a stored row that cannot be read back
        (an older server's, a hand edit) still shows what it can."""
        event = self.bus.readable(row)
        if event is not None:
            return event_json(event)
        return {
            "id": row.uid,
            "type": row.type,
            "kind": row.kind,
            "label": row.type,
            "time": iso(row.time_us),
            "camera_ids": [],
            "lat": None,
            "lon": None,
            "severity": row.severity,
            "source": row.source,
            "data": {},
        }

    async def for_event(self, event_row_id: int) -> dict[str, Any] | None:
        """The alarm of an event the caller may already see, or ``None``."""
        async with self.db.session() as session:
            found = (
                await session.execute(self._joined(None).where(Alarm.event_id == event_row_id))
            ).first()
            if found is None:
                return None
            alarm, event = found
            notes = await self._notes(session, [alarm.id])
        return alarm_json(alarm, self._event(event), notes.get(alarm.id, []))

    def thumbnail_file(self, alarm_id: int) -> Path:
        return self.folder / f"{alarm_id}.jpg"

    async def thumbnail(self, alarm_id: int, visible: frozenset[int] | None) -> bytes:
        alarm = await self.get(alarm_id, visible)
        if alarm["thumbnail"]["state"] != "ready":
            raise AlarmError(
                404, f"alarm {alarm_id} has no thumbnail ({alarm['thumbnail']['state']})"
            )
        try:
            return await asyncio.to_thread(self.thumbnail_file(alarm_id).read_bytes)
        except FileNotFoundError:
            raise AlarmError(404, f"alarm {alarm_id}: the thumbnail file is gone") from None

    # -- changes -----------------------------------------------------------------------------
    async def acknowledge(self, alarm_id: int, actor: Actor) -> dict[str, Any]:
        await self.get(alarm_id, actor.visible)  # 404 for an alarm the caller cannot see
        now = now_us()
        changed = await self._update_if(
            alarm_id,
            Alarm.state == "new",
            state="acknowledged",
            acknowledged_by=actor.username,
            acknowledged_us=now,
            updated_us=now,
        )
        if not changed:
            raise AlarmError(409, await self._why_not(alarm_id, "acknowledge"))
        return await self._changed(alarm_id, actor, "alarm.acknowledge", {})

    async def assign(self, alarm_id: int, assignee: str | None, actor: Actor) -> dict[str, Any]:
        await self.get(alarm_id, actor.visible)
        if assignee is not None:
            async with self.db.session() as session:
                user = await session.scalar(select(User).where(User.username == assignee))
            if user is None or user.disabled:
                raise AlarmError(400, f"assignee: no user {assignee!r}")
        changed = await self._update_if(
            alarm_id, Alarm.state != "closed", assignee=assignee, updated_us=now_us()
        )
        if not changed:
            raise AlarmError(409, await self._why_not(alarm_id, "assign"))
        return await self._changed(alarm_id, actor, "alarm.assign", {"assignee": assignee})

    async def add_note(self, alarm_id: int, text: str, actor: Actor) -> dict[str, Any]:
        text = text.strip()
        if not text:
            raise AlarmError(400, "text: a note needs some text")
        if len(text) > MAX_NOTE_CHARS:
            raise AlarmError(400, f"text: at most {MAX_NOTE_CHARS} characters")
        await self.get(alarm_id, actor.visible)
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(AlarmNote).where(AlarmNote.alarm_id == alarm_id)
            )
            if (count or 0) >= MAX_NOTES:
                raise AlarmError(409, f"alarm {alarm_id} has {MAX_NOTES} notes, the most it takes")
            session.add(
                AlarmNote(alarm_id=alarm_id, time_us=now_us(), username=actor.username, text=text)
            )
            await session.execute(
                update(Alarm).where(Alarm.id == alarm_id).values(updated_us=now_us())
            )
        return await self._changed(alarm_id, actor, "alarm.note", {"text": text[:200]})

    async def close(self, alarm_id: int, actor: Actor, note: str | None = None) -> dict[str, Any]:
        await self.get(alarm_id, actor.visible)
        now = now_us()
        changed = await self._update_if(
            alarm_id,
            Alarm.state != "closed",
            state="closed",
            closed_by=actor.username,
            closed_us=now,
            updated_us=now,
        )
        if not changed:
            raise AlarmError(409, await self._why_not(alarm_id, "close"))
        if note and note.strip():
            async with self.db.session() as session:
                session.add(
                    AlarmNote(
                        alarm_id=alarm_id,
                        time_us=now,
                        username=actor.username,
                        text=note.strip()[:MAX_NOTE_CHARS],
                    )
                )
        return await self._changed(
            alarm_id, actor, "alarm.close", {"note": (note or "").strip()[:200]}
        )

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _joined(visible: frozenset[int] | None) -> Select[Alarm, EventRow]:
        query = select(Alarm, EventRow).join(EventRow, EventRow.id == Alarm.event_id)
        if visible is not None:
            query = query.where(visible_clause(visible))
        return query

    @staticmethod
    async def _notes(session: Any, alarm_ids: list[int]) -> dict[int, list[AlarmNote]]:
        if not alarm_ids:
            return {}
        found: dict[int, list[AlarmNote]] = {}
        rows = await session.scalars(
            select(AlarmNote)
            .where(AlarmNote.alarm_id.in_(alarm_ids))
            .order_by(AlarmNote.time_us, AlarmNote.id)
        )
        for note in rows:
            found.setdefault(note.alarm_id, []).append(note)
        return found

    async def _update_if(self, alarm_id: int, condition: Any, **values: Any) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                update(Alarm)
                .where(Alarm.id == alarm_id, condition)
                .values(**values)
                .returning(Alarm.id)
            )
            return result.first() is not None

    async def _why_not(self, alarm_id: int, action: str) -> str:
        async with self.db.session() as session:
            alarm = await session.get(Alarm, alarm_id)
        if alarm is None:
            return f"no alarm {alarm_id}"
        if alarm.state == "closed":
            return f"alarm {alarm_id} was closed by {alarm.closed_by} at {iso(alarm.closed_us)}"
        if alarm.state == "acknowledged":
            return (
                f"alarm {alarm_id} was already acknowledged by {alarm.acknowledged_by} "
                f"at {iso(alarm.acknowledged_us)}"
            )
        return f"alarm {alarm_id} cannot {action} in state {alarm.state}"

    async def _changed(
        self, alarm_id: int, actor: Actor, action: str, detail: dict[str, Any]
    ) -> dict[str, Any]:
        alarm = await self.get(alarm_id, None)
        await self.audit.record(
            action,
            username=actor.username,
            target=str(alarm_id),
            remote=actor.remote,
            detail={"event": alarm["event"]["id"], **detail},
        )
        self._broadcast(alarm)
        return alarm

    async def _announce(self, alarm_id: int) -> None:
        self._broadcast(await self.get(alarm_id, None))

    def _broadcast(self, alarm: dict[str, Any]) -> None:
        cameras = frozenset(int(c) for c in alarm["event"]["camera_ids"])
        self.bus.broadcast(Broadcast("alarm", alarm, cameras))

    # -- thumbnails --------------------------------------------------------------------------
    async def _take_thumbnail(self, alarm_id: int, row: EventRow) -> None:
        assert self.pictures is not None
        settings = self.settings()
        camera_id = int(row.camera_ids[0])
        try:
            picture = await self.pictures.at(
                camera_id, row.time_us, settings.thumbnail_width, settings.thumbnail_max_bytes
            )
        except NoPicture as why:
            await self._set_thumbnail(alarm_id, "none", str(why))
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("alarm %d: no thumbnail from camera %d: %s", alarm_id, camera_id, exc)
            await self._set_thumbnail(alarm_id, "none", f"failed: {exc}"[:250])
        else:
            await asyncio.to_thread(self._write_file, self.thumbnail_file(alarm_id), picture.jpeg)
            await self._set_thumbnail(alarm_id, "ready", f"from the {picture.source} picture")
            await self._prune_thumbnails(settings.max_thumbnails)
        await self._announce(alarm_id)

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    async def _set_thumbnail(self, alarm_id: int, state: str, note: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Alarm)
                .where(Alarm.id == alarm_id)
                .values(thumbnail=state, thumbnail_note=note[:256])
            )

    async def _prune_thumbnails(self, keep: int) -> None:
        """Keep at most ``keep`` thumbnails: the oldest alarms' go first (closed before
        open), so the folder is bounded by ``keep * thumbnail_max_bytes``."""
        async with self.db.session() as session:
            ready = await session.scalar(
                select(func.count()).select_from(Alarm).where(Alarm.thumbnail == "ready")
            )
            excess = (ready or 0) - keep
            if excess <= 0:
                return
            oldest = list(
                await session.scalars(
                    select(Alarm.id)
                    .where(Alarm.thumbnail == "ready")
                    .order_by((Alarm.state != "closed"), Alarm.time_us, Alarm.id)
                    .limit(excess)
                )
            )
            await session.execute(
                update(Alarm)
                .where(Alarm.id.in_(oldest))
                .values(thumbnail="none", thumbnail_note="removed to keep the newest thumbnails")
            )
        for alarm_id in oldest:
            await asyncio.to_thread(self.thumbnail_file(alarm_id).unlink, missing_ok=True)


def alarm_json(alarm: Alarm, event: dict[str, Any], notes: list[AlarmNote]) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "state": alarm.state,
        "severity": alarm.severity,
        "time": iso(alarm.time_us),
        "event": event,
        "assignee": alarm.assignee,
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged": iso(alarm.acknowledged_us),
        "closed_by": alarm.closed_by,
        "closed": iso(alarm.closed_us),
        "created": iso(alarm.created_us),
        "updated": iso(alarm.updated_us),
        "thumbnail": {
            "state": alarm.thumbnail,
            "note": alarm.thumbnail_note,
            "url": f"/api/alarms/{alarm.id}/thumbnail.jpg" if alarm.thumbnail == "ready" else None,
        },
        "notes": [{"time": iso(n.time_us), "username": n.username, "text": n.text} for n in notes],
    }
