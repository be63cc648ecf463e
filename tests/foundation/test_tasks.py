"""cancel_and_wait: ends a task, raises what it failed with, never swallows the caller's
own cancellation (the suppress(CancelledError) idiom it replaces did)."""

from __future__ import annotations

import asyncio

import pytest

from vms_core.tasks import cancel_and_wait


async def test_a_running_task_is_cancelled_and_awaited_quietly() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    await cancel_and_wait(None)  # nothing started: nothing to do


async def test_a_task_that_failed_raises_its_error() -> None:
    async def fails() -> None:
        raise ValueError("the pump broke")

    task = asyncio.create_task(fails())
    await asyncio.wait([task])
    with pytest.raises(ValueError, match="the pump broke"):
        await cancel_and_wait(task)


async def test_the_callers_own_cancellation_goes_through() -> None:
    """A stop() cancelled while it waits for a slow task must end cancelled, not carry on
    as if it had finished."""
    cleaning = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.sleep(30)  # clean-up that takes long; the hang guard is the test's
            raise

    worker = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_and_wait(worker))
    await asyncio.wait_for(cleaning.wait(), timeout=10)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    worker.cancel()
    await asyncio.wait([worker])
