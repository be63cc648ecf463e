"""Text from outside, made safe for one line of the server log.

A login name, a path or a header can hold a newline or a terminal escape; written to the
log as is, it forges a line (``admin logged in`` that never happened) or rewrites the
operator's terminal. :func:`oneline` escapes every control and separator character and
cuts the text to a length, so what a client sent always stays inside its own field.
"""

from __future__ import annotations

import unicodedata

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
