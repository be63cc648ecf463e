"""The alert webhook's wire format: signature check and payload parsing.

A request carries two headers::

    X-Gunshot-Timestamp: 1795338000             (Unix seconds when it was signed)
    X-Gunshot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Signing the timestamp with the body means an intercepted request cannot be re-sent
later with a fresh timestamp; a request older than the replay window is refused, and
one whose signature was already used inside the window is refused as a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vms_sdk import BadRequest, parse_json

TIMESTAMP_HEADER = "x-gunshot-timestamp"
SIGNATURE_HEADER = "x-gunshot-signature"
_MAX_ID_CHARS = 128
# An alert about a shot older than this is history, not an alert (and no camera still has
# the recording to bookmark).
MAX_ALERT_AGE_S = 7 * 24 * 3600


class Refused(Exception):
    """A request the webhook will not act on: status, error code and a clear message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Alert:
    """One gunshot alert from the external detection system."""

    id: str
    time: datetime
    lat: float
    lon: float
    address: str
    rounds: int
    confidence: float


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Gunshot-Signature`` value for ``body`` signed at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window_s: float
) -> str:
    """Check timestamp and signature; returns the signature (the replay key).

    :raises Refused: 401 when unsigned, wrongly signed or outside the replay window.
    """
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise Refused(401, "unsigned", f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise Refused(401, "unsigned", f"missing {TIMESTAMP_HEADER} header")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise Refused(401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is anyone's.
    given = signature.strip().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(sign(secret, signed_at, body).encode("ascii"), given):
        # Checked before the age, so an attacker learns nothing about the window.
        raise Refused(401, "bad_signature", "signature does not match the body and timestamp")
    if abs(now - signed_at) > window_s:
        raise Refused(
            401,
            "stale",
            f"timestamp is {abs(now - signed_at):.0f} s away from server time; "
            f"the replay window is {window_s:.0f} s",
        )
    return signature.strip()


def parse_alert(body: bytes, now: float, window_s: float) -> Alert:
    """The alert in ``body``; raises ``Refused`` (400) naming the first problem."""
    try:
        raw = parse_json(body)  # bounded: deep nesting is refused, not a RecursionError
    except BadRequest as exc:
        raise Refused(400, "malformed", exc.message) from None
    if not isinstance(raw, dict):
        raise Refused(400, "malformed", "body must be a JSON object")
    alert_id = raw.get("id")
    if not isinstance(alert_id, str | int) or isinstance(alert_id, bool) or not str(alert_id):
        raise Refused(400, "malformed", "id: required, a non-empty string")
    if len(str(alert_id)) > _MAX_ID_CHARS:
        raise Refused(400, "malformed", f"id: at most {_MAX_ID_CHARS} characters")
    lat = _number(raw, "lat", -90, 90)
    lon = _number(raw, "lon", -180, 180)
    rounds = raw.get("rounds", 1)
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= 1000:
        raise Refused(400, "malformed", "rounds: an integer from 1 to 1000")
    confidence = _number(raw, "confidence", 0, 1, default=1.0)
    address = raw.get("address", "")
    if not isinstance(address, str) or len(address) > 500:
        raise Refused(400, "malformed", "address: a string of at most 500 characters")
    when = _time(raw.get("time"))
    if when.timestamp() - now > window_s:
        raise Refused(400, "malformed", "time: lies in the future")
    if now - when.timestamp() > MAX_ALERT_AGE_S:
        raise Refused(400, "malformed", f"time: more than {MAX_ALERT_AGE_S // 86400} days ago")
    return Alert(str(alert_id), when, lat, lon, address, rounds, confidence)


def _number(
    raw: Mapping[str, Any], key: str, low: float, high: float, default: float | None = None
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(400, "malformed", f"{key}: required, a number from {low} to {high}")
    if not math.isfinite(value) or not low <= value <= high:
        raise Refused(400, "malformed", f"{key}: must be from {low} to {high}, got {value}")
    return float(value)


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Refused(400, "malformed", "time: required, an ISO 8601 time with a UTC offset")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "malformed", f"time: not an ISO 8601 time: {value[:40]!r}") from None
    if when.tzinfo is None:
        raise Refused(400, "malformed", "time: needs a UTC offset (e.g. ...Z)")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise Refused(400, "malformed", f"time: out of range: {value[:40]!r}") from None
