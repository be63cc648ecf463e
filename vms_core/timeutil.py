"""UTC time helpers: the catalog stores integer microseconds since the epoch."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_us() -> int:
    return time.time_ns() // 1000


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must carry a timezone")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def iso(value_us: int | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if value_us is None:
        return None
    return from_us(value_us).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> int:
    """Parse an ISO 8601 time (with offset or Z) or epoch seconds into microseconds.

    Raises ValueError for naive times: a time without a zone is ambiguous evidence.
    """
    text = text.strip()
    try:
        return int(float(text) * 1_000_000)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return to_us(parsed)
