"""The EventBus: the one way facts about the world enter the system.

An event is stored in the catalog first, then handed to every listener (rules, plug-ins,
live streams to browsers). A listener that fails is logged and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, select
from vms_sdk import Event, Severity, haversine_m

from vms_core.db.engine import Database
from vms_core.db.models import Camera, EventCamera
from vms_core.db.models import Event as EventRow
from vms_core.events.kinds import kind_of, label_of
from vms_core.events.search import visible_clause
from vms_core.limits import ID_MAX, check_time
from vms_core.timeutil import from_us, iso, to_us

log = logging.getLogger(__name__)

Listener = Callable[[Event], Awaitable[None]]
SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A change other than a new event, sent to the live streams: ``name`` is the SSE
    event name (``"alarm"``), ``payload`` its JSON. Only callers who may see one of
    ``camera_ids`` receive it (none: everyone)."""

    name: str
    payload: dict[str, Any]
    camera_ids: frozenset[int] = frozenset()


LiveItem = Event | Broadcast | None


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "kind": kind_of(event.type),
        "label": label_of(event.type, event.source),
        "time": iso(to_us(event.time)),
        "camera_ids": [int(c) for c in event.camera_ids if str(c).isdigit()],
        "lat": event.lat,
        "lon": event.lon,
        "severity": str(event.severity),
        "source": event.source,
        "data": dict(event.data),
    }


def row_to_event(row: EventRow) -> Event:
    return Event(
        type=row.type,
        time=from_us(row.time_us),
        camera_ids=tuple(str(c) for c in row.camera_ids),
        lat=row.lat,
        lon=row.lon,
        severity=Severity(row.severity),
        source=row.source,
        data=row.data,
        id=row.uid,
    )


class EventBus:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Stored rows that cannot be read back as events, each logged once.
        self._unreadable: set[str] = set()
        self._listeners: list[tuple[str, Listener]] = []
        self._live: set[asyncio.Queue[LiveItem]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, name: str, listener: Listener) -> None:
        self._listeners.append((name, listener))

    def live_queue(self, maxsize: int = 256) -> asyncio.Queue[LiveItem]:
        """A queue of every new event and broadcast change, for a live stream to a
        browser. Close with ``drop_live``. A reader that falls behind loses the oldest
        items, never blocks. ``None`` in the queue means the server is stopping."""
        queue: asyncio.Queue[LiveItem] = asyncio.Queue(maxsize)
        self._live.add(queue)
        return queue

    def drop_live(self, queue: asyncio.Queue[LiveItem]) -> None:
        self._live.discard(queue)

    def close_live(self) -> None:
        """End every live stream (server stopping)."""
        self._to_live(None)

    def broadcast(self, change: Broadcast) -> None:
        """Send a change to every live stream (alarm acknowledged, note added...)."""
        self._to_live(change)

    def _to_live(self, item: LiveItem) -> None:
        for queue in list(self._live):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

    async def publish(self, event: Event) -> Event:
        """Store the event, then deliver it. Returns the stored event.

        Publishing an event whose id is already stored changes nothing and returns the
        stored one: publishers may retry safely. ValueError for a time outside the
        catalog's range (``vms_core.limits``), before anything is stored.
        """
        check_time(event.time, "time")
        event, is_new = await self._store(event)
        if not is_new:
            return event
        self._to_live(event)
        for name, listener in self._listeners:
            task = asyncio.ensure_future(self._deliver(name, listener, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return event

    async def drain(self) -> None:
        """Wait until every listener has handled what was published so far (tests, stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, name: str, listener: Listener, event: Event) -> None:
        try:
            await listener(event)
        except Exception:
            log.exception("event listener %s failed on %s %s", name, event.type, event.id)

    async def _store(self, event: Event) -> tuple[Event, bool]:
        camera_ids = sorted(
            {int(c) for c in event.camera_ids if str(c).isascii() and str(c).isdigit()}
        )
        camera_ids = [c for c in camera_ids if 0 < c <= ID_MAX]
        event = replace(event, camera_ids=tuple(str(c) for c in camera_ids))
        async with self.db.session() as session:
            existing = await session.scalar(select(EventRow).where(EventRow.uid == event.id))
            if existing is not None:
                stored = self.readable(existing)
                return (stored if stored is not None else event), False
            # Rows for filtering only for cameras that exist: a publisher naming a camera
            # that is gone (or never was) keeps its event, not a broken foreign key.
            known = set(await session.scalars(select(Camera.id).where(Camera.id.in_(camera_ids))))
            row = EventRow(
                uid=event.id,
                type=event.type,
                time_us=to_us(event.time),
                severity=str(event.severity),
                kind=kind_of(event.type),
                source=event.source,
                camera_ids=camera_ids,
                lat=event.lat,
                lon=event.lon,
                data=dict(event.data),
            )
            session.add(row)
            await session.flush()
            for camera_id in camera_ids:
                if camera_id in known:
                    session.add(EventCamera(event_id=row.id, camera_id=camera_id))
        return event, True

    def readable(self, row: EventRow) -> Event | None:
        """The stored event, or None (logged once per row) for a row an older server or a
        hand edit left that cannot be an event: skipped, so it never breaks a listing."""
        try:
            return row_to_event(row)
        except (ValueError, TypeError, OverflowError) as exc:
            if row.uid not in self._unreadable and len(self._unreadable) < 10_000:
                self._unreadable.add(row.uid)
                log.warning("stored event %r skipped: cannot be read (%s)", row.uid, exc)
            return None

    async def query(
        self,
        *,
        type_pattern: str | None = None,
        camera_id: int | None = None,
        visible: frozenset[int] | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        near: tuple[float, float, float] | None = None,
        limit: int = 200,
    ) -> list[Event]:
        """Newest first. ``visible``: camera ids the caller may see (None: all); an event
        about cameras is shown when at least one of them is visible."""
        query: Select[EventRow] = select(EventRow).order_by(
            EventRow.time_us.desc(), EventRow.id.desc()
        )
        if type_pattern:
            if type_pattern.endswith("*"):
                query = query.where(EventRow.type.startswith(type_pattern[:-1]))
            else:
                query = query.where(EventRow.type == type_pattern)
        if camera_id is not None:
            query = query.where(
                EventRow.id.in_(
                    select(EventCamera.event_id).where(EventCamera.camera_id == camera_id)
                )
            )
        if visible is not None:
            # In SQL, before the LIMIT: a filter applied afterwards would return fewer
            # events than asked for to a user who may not see every camera.
            query = query.where(visible_clause(visible))
        if since_us is not None:
            query = query.where(EventRow.time_us >= since_us)
        if until_us is not None:
            query = query.where(EventRow.time_us <= until_us)
        if near is not None:
            lat, lon, radius = near
            # Coarse box in SQL (index-friendly), exact distance below.
            dlat = radius / 111_000.0
            query = query.where(EventRow.lat.between(lat - dlat, lat + dlat))
        async with self.db.session() as session:
            rows = list(await session.scalars(query.limit(limit * 4 if near else limit)))
        events = [e for e in map(self.readable, rows) if e is not None]
        if near is not None:
            lat, lon, radius = near
            events = [
                e
                for e in events
                if e.lat is not None
                and e.lon is not None
                and haversine_m(lat, lon, e.lat, e.lon) <= radius
            ]
        return events[:limit]
