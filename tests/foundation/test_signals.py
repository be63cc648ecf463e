"""The server's internal signals: every listener hears every value, in the order it
connected, and one that fails is logged by name without stopping the others."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vms_core.signals import AsyncSignal, Signal

LISTENER_FAILS = pytest.mark.allow_error_logs(
    "segment closed listener broken archiver failed",
    reason="a listener that raises is what the test checks",
)


@LISTENER_FAILS
def test_a_failing_listener_is_logged_by_name_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[tuple[str, int]] = []
    closed: Signal[int] = Signal("segment closed")
    closed.connect(lambda value: heard.append(("retention", value)), "retention")

    def broken(value: int) -> None:
        raise ValueError("disk on fire")

    closed.connect(broken, "broken archiver")
    closed.connect(lambda value: heard.append(("plug-ins", value)), "plug-ins")

    with caplog.at_level(logging.ERROR, logger="vms_core.signals"):
        closed.emit(7)
        closed.emit(8)

    assert heard == [("retention", 7), ("plug-ins", 7), ("retention", 8), ("plug-ins", 8)]
    failures = [r for r in caplog.records if r.name == "vms_core.signals"]
    assert len(failures) == 2
    assert "broken archiver" in failures[0].getMessage()
    assert failures[0].exc_info is not None and "disk on fire" in str(failures[0].exc_info[1])


def test_a_disconnected_listener_hears_nothing_more() -> None:
    heard: list[int] = []
    signal: Signal[int] = Signal("camera changed")
    signal.connect(heard.append, "recording")
    signal.emit(1)
    signal.disconnect(heard.append)
    signal.emit(2)
    assert heard == [1]
    assert signal.listeners == []


@pytest.mark.allow_error_logs(
    "camera changed listener ONVIF health failed",
    reason="a listener that raises is what the test checks",
)
async def test_async_listeners_run_in_order_and_a_failure_stops_none() -> None:
    heard: list[str] = []
    changed: AsyncSignal[str] = AsyncSignal("camera changed")

    async def recording(name: str) -> None:
        heard.append(f"recording {name}")

    async def health(name: str) -> None:
        raise KeyError(name)

    async def plugins(name: str) -> None:
        heard.append(f"plug-ins {name}")

    changed.connect(recording, "recording")
    changed.connect(health, "ONVIF health")
    changed.connect(plugins, "plug-ins")
    assert changed.listeners == ["recording", "ONVIF health", "plug-ins"]

    await changed.emit("gate")
    assert heard == ["recording gate", "plug-ins gate"]


async def test_cancelling_the_emitter_is_not_swallowed_as_a_listener_failure() -> None:
    changed: AsyncSignal[str] = AsyncSignal("camera changed")
    started = asyncio.Event()
    after: list[str] = []

    async def slow(name: str) -> None:
        started.set()
        await asyncio.Event().wait()  # never set: only a cancellation ends it

    changed.connect(slow, "slow")
    changed.connect(lambda name: _append(after, name), "after")
    emitting = asyncio.create_task(changed.emit("gate"))
    await asyncio.wait_for(started.wait(), timeout=10)
    emitting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await emitting
    assert after == []  # the cancellation went through instead of moving on


async def _append(to: list[str], value: str) -> None:
    to.append(value)
