"""Waiting for something to become true, the one way tests do it.

A test that waits for the system (a segment to close, a camera to stream, a receiver to get
a message) polls a predicate with :func:`eventually` (async) or :func:`eventually_sync`
instead of writing its own loop or sleeping a fixed time. The timeout is a hang guard, not a
performance claim: make it at least 5x what the wait typically takes and say so where it
is not obvious. Timing goals live in ``bench/``.

The predicate returns a value: a truthy one ends the wait and is returned. It may also
raise ``AssertionError`` to say "not yet, and here is why": the last such message is part
of the timeout's error, so a failure says what was still wrong.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NeverHappened(AssertionError):
    """The predicate did not hold within the timeout."""


def _explain(what: str | None, timeout: float, last: object, error: AssertionError | None) -> str:
    subject = what or "condition"
    detail = f"; last error: {error}" if error is not None else f"; last value: {last!r}"
    return f"{subject} did not hold within {timeout:g} s{detail}"


async def eventually(
    predicate: Callable[[], Awaitable[T] | T],
    timeout: float,
    interval: float = 0.1,
    *,
    what: str | None = None,
) -> T:
    """Poll ``predicate`` (sync or async) every ``interval`` s until it returns a truthy value.

    :return: that value.
    :raises NeverHappened: after ``timeout`` seconds, naming ``what`` and the last value or
        the last ``AssertionError`` the predicate raised.
    """
    deadline = time.monotonic() + timeout
    while True:
        error: AssertionError | None = None
        value: object = None
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError as exc:
            error = exc
        if error is None and value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise NeverHappened(_explain(what, timeout, value, error)) from error
        await asyncio.sleep(interval)


def eventually_sync(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    *,
    what: str | None = None,
) -> T:
    """:func:`eventually` for code that is not on an event loop (threads, plain tests)."""
    deadline = time.monotonic() + timeout
    while True:
        error: AssertionError | None = None
        value: object = None
        try:
            value = predicate()
        except AssertionError as exc:
            error = exc
        if error is None and value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise NeverHappened(_explain(what, timeout, value, error)) from error
        time.sleep(interval)
