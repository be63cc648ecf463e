"""Searching the event catalog: filters, and keyset paging newest first.

A page ends with a cursor (the last event's time and row id); the next page starts
strictly after it in ``(time_us, id)`` order, which the ``ix_events_time_id`` index walks
directly. Unlike an offset, a cursor stays exact while new events arrive at the top
(about 100 a minute on the demo), and costs the same on page 1 and page 1,000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from vms_sdk import Severity

from vms_core.db.engine import Database
from vms_core.db.models import Event as EventRow
from vms_core.db.models import EventCamera
from vms_core.events.kinds import EventKind
from vms_core.limits import ID_MAX, TIME_MAX_US, TIME_MIN_US

SEVERITIES = [s.value for s in Severity]


class CursorError(ValueError):
    """A paging cursor that this server did not hand out."""


# What a cursor looks like (the API documents it): "<time_us>_<row id>".
CURSOR_PATTERN = r"^-?[0-9]{1,19}_[0-9]{1,19}$"


@dataclass(frozen=True, slots=True)
class Cursor:
    time_us: int
    row_id: int

    def text(self) -> str:
        return f"{self.time_us}_{self.row_id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """A cursor from its text. Values beyond the catalog's range are brought into it
        (the page after them is the first one, or an empty one), so no cursor of the
        documented form is refused, nor reaches the database out of range."""
        if not re.fullmatch(CURSOR_PATTERN, text):
            raise CursorError(f"expected a cursor from a previous page, got {text[:40]!r}")
        time_text, _, id_text = text.partition("_")
        time_us = min(max(int(time_text), TIME_MIN_US - 1), TIME_MAX_US + 1)
        return cls(time_us, min(int(id_text), ID_MAX))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What to find. ``None`` (or empty) means no restriction on that field."""

    type_pattern: str | None = None  # exact type, or a prefix ending in "*"
    camera_id: int | None = None
    min_severity: str | None = None
    kinds: tuple[EventKind, ...] = ()
    since_us: int | None = None
    until_us: int | None = None
    # Camera ids the caller may see; None: all. An event about cameras is shown when at
    # least one of them is visible; an event about none (a city-wide alert) to everyone.
    visible: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: list[EventRow]
    next: Cursor | None


def visible_clause(visible: frozenset[int]) -> ColumnElement[bool]:
    """SQL for "the caller may see this event" (applied before any LIMIT, so a user who
    sees few cameras still gets full pages)."""
    about_cameras = select(EventCamera.event_id).where(EventCamera.event_id == EventRow.id)
    return ~about_cameras.exists() | EventRow.id.in_(
        select(EventCamera.event_id).where(EventCamera.camera_id.in_(visible))
    )


def filtered(query: Select[Any], found: EventFilter) -> Select[Any]:
    if found.type_pattern:
        if found.type_pattern.endswith("*"):
            query = query.where(EventRow.type.startswith(found.type_pattern[:-1], autoescape=True))
        else:
            query = query.where(EventRow.type == found.type_pattern)
    if found.camera_id is not None:
        query = query.where(
            EventRow.id.in_(
                select(EventCamera.event_id).where(EventCamera.camera_id == found.camera_id)
            )
        )
    if found.min_severity:
        at_least = SEVERITIES[SEVERITIES.index(found.min_severity) :]
        query = query.where(EventRow.severity.in_(at_least))
    if found.kinds:
        query = query.where(EventRow.kind.in_(found.kinds))
    if found.since_us is not None:
        query = query.where(EventRow.time_us >= found.since_us)
    if found.until_us is not None:
        query = query.where(EventRow.time_us <= found.until_us)
    if found.visible is not None:
        query = query.where(visible_clause(found.visible))
    return query


class EventSearch:
    """The events page's queries (the repository behind ``/api/events/search`` and
    ``/api/events/{id}``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, found: EventFilter, limit: int, after: Cursor | None = None) -> EventPage:
        """Up to ``limit`` events newest first, after ``after`` when given."""
        query = filtered(select(EventRow), found).order_by(
            EventRow.time_us.desc(), EventRow.id.desc()
        )
        if after is not None:
            query = query.where(
                or_(
                    EventRow.time_us < after.time_us,
                    and_(EventRow.time_us == after.time_us, EventRow.id < after.row_id),
                )
            )
        async with self.db.session() as session:
            rows = list(await session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more and rows else None
        return EventPage(rows, Cursor(last.time_us, last.id) if last is not None else None)

    async def by_uid(self, uid: str, visible: frozenset[int] | None) -> EventRow | None:
        """One event by its id, whatever its age; ``None`` when it does not exist or the
        caller may not see it (the same answer, so ids do not leak)."""
        query = select(EventRow).where(EventRow.uid == uid)
        if visible is not None:
            query = query.where(visible_clause(visible))
        async with self.db.session() as session:
            return await session.scalar(query)
