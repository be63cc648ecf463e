"""Bounds on the sizes and counts RTSP peers send, shared by the server (reading clients'
requests) and the native ingest's client (reading cameras' responses, SDP and RTP).

A number from the wire sizes a read, a loop or a buffer only after it passed one of these
checks; outside them the message is refused with a reason that names the field.
"""

from __future__ import annotations

import re

# Status or request line plus headers, blank line included.
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADER_LINES = 64
# A body: an SDP, a GET_PARAMETER answer. Real ones are a few KiB.
MAX_BODY_BYTES = 64 * 1024
# Media sections of one SDP (cameras send 1-3: video, audio, metadata).
MAX_MEDIA_SECTIONS = 16

# Plain ASCII decimal: no sign, no spaces inside, no other scripts' digits ("²" and "٣"
# are str.isdigit()), and short enough that int() is cheap and never refuses it.
_DECIMAL = re.compile(r"[0-9]{1,18}")


def decimal(text: str, low: int, high: int) -> int | None:
    """``text`` (surrounding spaces allowed) as an integer in ``[low, high]``, else None."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def shown(text: str, limit: int = 80) -> str:
    """``text`` shortened for a log line or a state reason (a peer chooses its length)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
