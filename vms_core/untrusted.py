"""Text that came from outside (a camera's reply, a network peer, a client's request), made
fit to store, show and log.

A device decides how long its fault messages are and what characters they hold: a 1.9 MB
SOAP fault once became a camera's state reason, and so every `GET /api/cameras`. Such text
goes through :func:`bounded_text` on its way into the catalog or an API answer: one line,
bounded, control characters made spaces.

A login name, a path or a header can hold a newline or a terminal escape; written to the
log as is, it forges a line (``admin logged in`` that never happened) or rewrites the
operator's terminal. For the log, :func:`oneline` escapes every control and separator
character instead (the log keeps what was sent, visibly) and cuts to a length.
"""

from __future__ import annotations

import re
import unicodedata

# Long enough for any reason a person reads (an ONVIF fault with its subcodes is ~200
# characters), short enough that 1,000 cameras' reasons stay a small API answer.
MAX_REASON_CHARS = 500

# C0 and C1 control characters, DEL, the Unicode line and paragraph separators and the
# bidirectional overrides: each could end or forge a log line, or hide or reorder what
# follows it on a screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r" {2,}")


def bounded_text(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` on one line, without control characters, cut to at most ``limit`` characters.

    Runs of control characters (newlines and tabs included) become one space and runs of
    spaces collapse; text cut short ends with an ellipsis so a reader knows there was more.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # Cut first (with room for the clean-up) so a megabyte costs no more than a line.
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", text[: limit * 4 + 1])).strip()
    if len(flat) <= limit and len(text) <= limit * 4:
        return flat
    return flat[: limit - 1].rstrip() + "…"


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def oneline(text: str, limit: int = 200) -> str:
    """``text`` with control characters (``\\n``, ESC, U+2028, ...) escaped, at most
    ``limit`` characters of it (an ellipsis marks a cut)."""
    cut = text[:limit]
    out = []
    for char in cut:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char)[0] in ("C", "Z") and char != " ":
            out.append(f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out) + ("…" if len(text) > limit else "")
