"""Reading a JSON request body without letting a hostile one hurt the plug-in.

``json.loads`` recurses once per level of nesting: a body of a few thousand ``[``
raises ``RecursionError`` (not a ``ValueError``), which a handler does not expect and
which would count as the plug-in failing. :func:`parse_json` turns every way a body can
be wrong into :class:`~vms_sdk.errors.BadRequest`, and refuses nesting deeper than
:data:`MAX_JSON_DEPTH`. The host checks JSON bodies with it before a handler runs;
``HttpRequest.json()`` uses it too.
"""

from __future__ import annotations

import json
from typing import Any

from vms_sdk.errors import BadRequest

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; real payloads use a handful of levels."""


def parse_json(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in ``data`` (UTF-8), or ``None`` for an empty body.

    :raises BadRequest: when ``data`` is not UTF-8, not JSON, or nested deeper than
        ``max_depth`` levels; the message says which.
    """
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadRequest(f"body: JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if _deeper_than(value, max_depth):
        raise BadRequest(f"body: JSON nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    # Iterative, so checking a deep value cannot itself hit the recursion limit.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
