"""Cancelling a coroutine at every point it can be cancelled.

A race between a caller's cancellation and work that must finish (a commit, an
announcement) lands at one loop turn or another depending on the machine's load. Rather
than hoping a test hits the bad turn, :func:`cancel_at_every_turn` cancels after 0, 1,
2, ... loop turns, so every turn the work passes through is tried once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


async def cancel_at_every_turn(start: Callable[[int], Coroutine[Any, Any, Any]], most: int) -> int:
    """Run ``start(n)`` as a task and cancel it after ``n`` loop turns, for n = 0, 1, 2, ...
    until a run finishes before its cancellation.

    :return: the number of turns that run needed (a small number means the cancellations
        never reached the work's later steps: assert it is large enough).
    :raises AssertionError: if no run finished within ``most`` turns.
    """
    for turns in range(most):
        task = asyncio.create_task(start(turns))
        for _ in range(turns):
            await asyncio.sleep(0)
        if task.done():
            await task
            return turns
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    raise AssertionError(f"no run finished within {most} loop turns")
