"""The one range of times, ids and numbers that every layer accepts.

Whatever enters (a request, a plug-in, a rule) is checked against these before it is
stored, so that nothing stored can later fail to be read, formatted or sent as JSON:

- Times are from 1970-01-01T00:00:00Z to 9998-12-31T23:59:59.999999Z. Python's datetime,
  the catalog's integer microseconds, JavaScript's Date and ISO 8601 all hold every time in
  that range; the year of headroom below datetime's own limit (9999-12-31) keeps any
  bounded duration the server adds to a time (an export's length, a rule's after-roll, a
  lock's reach into the future) representable as well.
- Ids are positive and fit a signed 64-bit column.
- Numbers are finite; durations have an upper bound where they are declared.

The checks raise ``ValueError`` with a message that names the field; the API turns that into
a 400, a plug-in gets it as it is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def _epoch_us(value: datetime) -> int:
    delta = value - TIME_MIN
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# Integer microseconds since the epoch, as the catalog stores them.
TIME_MIN_US = 0
TIME_MAX_US = _epoch_us(TIME_MAX)
TIME_RANGE_TEXT = "1970-01-01T00:00:00Z .. 9998-12-31T23:59:59.999999Z"

ID_MIN = 1
ID_MAX = 2**63 - 1

# How far past now an evidence lock may reach: an incident still unfolding is locked ahead
# (a rule's after-roll, an operator locking "the next hour"), but recordings not made yet
# beyond this stay deletable, so retention can always free a camera's new recordings.
LOCK_MAX_AHEAD_US = 24 * 3600 * 1_000_000

# The longest duration a setting or request may give in seconds (a year).
DURATION_MAX_SECONDS = 366 * 86_400


def _named(field: str, problem: str) -> str:
    return f"{field}: {problem}" if field else problem


def check_time_us(value: int, field: str = "") -> int:
    """``value`` (microseconds since the epoch) if it is in the range, else ValueError."""
    if not TIME_MIN_US <= value <= TIME_MAX_US:
        raise ValueError(_named(field, f"a time must be within {TIME_RANGE_TEXT}"))
    return value


def check_time(value: datetime, field: str = "") -> datetime:
    """An aware datetime in the range, else ValueError naming ``field``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(_named(field, "needs a timezone (use Z for UTC)"))
    if not TIME_MIN <= value <= TIME_MAX:
        raise ValueError(_named(field, f"a time must be within {TIME_RANGE_TEXT}"))
    return value


def check_id(value: int, field: str = "") -> int:
    if not ID_MIN <= value <= ID_MAX:
        raise ValueError(_named(field, f"an id must be within {ID_MIN}..{ID_MAX}, got {value}"))
    return value


def check_finite(value: float, field: str = "") -> float:
    if not math.isfinite(value):
        raise ValueError(_named(field, f"must be a finite number, got {value}"))
    return value
