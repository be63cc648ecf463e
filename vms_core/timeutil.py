"""UTC time helpers: the catalog stores integer microseconds since the epoch.

Conversions are exact integer arithmetic: a float of seconds holds only about 15 digits,
which rounds microseconds away and can carry a time past datetime's range (9999-12-31
23:59:59.999999 would become year 10000).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# The microseconds datetime can hold; iso() clamps a stored value outside them.
_DATETIME_MIN_US = (datetime.min.replace(tzinfo=UTC) - EPOCH) // _US
_DATETIME_MAX_US = (datetime.max.replace(tzinfo=UTC) - EPOCH) // _US
_warned_unformattable = False


def now_us() -> int:
    return time.time_ns() // 1000


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must carry a timezone")
    return (value - EPOCH) // _US


def from_us(value: int) -> datetime:
    """The aware UTC datetime; OverflowError outside datetime's range (years 1-9999)."""
    return EPOCH + timedelta(microseconds=value)


def iso(value_us: int | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None.

    Never fails: a value outside what datetime can hold (only a catalog edited by hand has
    one) is shown clamped to that range, and logged once, so one bad row cannot break a
    listing for everyone.
    """
    global _warned_unformattable
    if value_us is None:
        return None
    clamped = min(max(int(value_us), _DATETIME_MIN_US), _DATETIME_MAX_US)
    if clamped != value_us and not _warned_unformattable:
        _warned_unformattable = True
        log.warning("a stored time (%r us) is outside years 1-9999; shown clamped", value_us)
    return from_us(clamped).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> int:
    """Parse an ISO 8601 time (with offset or Z) or epoch seconds into microseconds.

    Raises ValueError for naive times (a time without a zone is ambiguous evidence), for
    epoch seconds that are not a finite number, and for anything datetime cannot hold.
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"not a finite number of seconds: {text!r}")
        if not _DATETIME_MIN_US <= seconds * 1e6 <= _DATETIME_MAX_US:
            raise ValueError(f"outside years 1-9999: {text!r}")
        return round(seconds * 1_000_000)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except OverflowError:
        raise ValueError(f"outside years 1-9999: {text!r}") from None
    return to_us(parsed)
