"""Ending a background task: cancel it and wait until it is over.

``task.cancel()`` then ``with suppress(CancelledError): await task`` is the common idiom,
and it is wrong in one case that matters at shutdown: when the caller itself is cancelled
while it waits, the suppress swallows the caller's own cancellation, and the caller goes
on as if nothing happened. ``cancel_and_wait`` raises the caller's cancellation and never
the task's.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended. Its cancellation is not an error here;
    a failure it ended with is raised, as awaiting it would; a cancellation of the caller
    goes through."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait([task])  # neither raises the task's CancelledError nor swallows ours
    if not task.cancelled():
        task.result()
