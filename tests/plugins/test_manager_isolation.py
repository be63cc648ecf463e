import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vms_sdk import Event, Frame, Notification, SegmentInfo, utc_now

from tests.eventually import eventually
from tests.plugins import plugin_sources as src
from tests.plugins.conftest import LoopLagMeter, MemoryServices, started
from vms_core.plugins import CallBudgets, FrameDispatcher, PluginManager

FAST = CallBudgets(event=0.3, frame=0.3, notify=0.3, segment=0.3, http=0.3)


def four_plugins(plugin_dir: Callable[[str, str], Path]) -> Path:
    plugin_dir("good", src.GOOD)
    plugin_dir("raiser", src.RAISER)
    plugin_dir("sleeper", src.SLEEPER)
    return plugin_dir("blocker", src.BLOCKER)


@pytest.mark.allow_error_logs(
    "is unhealthy after", reason="the bad plug-ins fail on purpose until they are marked unhealthy"
)
async def test_bad_plugins_are_contained_and_good_one_gets_every_event(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path], loop_lag: LoopLagMeter
) -> None:
    folder = four_plugins(plugin_dir)
    manager = await started(
        PluginManager(services, folders=[folder], use_entry_points=False, budgets=FAST)
    )
    good = manager.get("good")
    assert good is not None and good.plugin is not None

    sent = [f"test.e{i}" for i in range(6)]
    t0 = time.perf_counter()
    for name in sent:
        assert manager.dispatch_event(Event(name)) >= 1
    dispatch_s = time.perf_counter() - t0
    await asyncio.wait_for(manager.wait_idle(), 5)

    assert sent == good.plugin.SEEN  # type: ignore[attr-defined]
    states = {s.name: s for s in manager.list()}
    assert states["good"].state == "running" and states["good"].health.healthy
    for bad in ("raiser", "sleeper", "blocker"):
        assert states[bad].state == "unhealthy", bad
        assert states[bad].health.consecutive_failures == 3
    assert states["raiser"].health.errors == 3
    assert "on_event bug" in (states["raiser"].health.last_error or "")
    assert states["sleeper"].health.timeouts == 3
    assert states["blocker"].health.timeouts == 3
    assert dispatch_s < 0.05

    # Once unhealthy, a plug-in is no longer called: only the good one gets new events.
    calls_before = {s.name: s.health.calls for s in manager.list()}
    assert manager.dispatch_event(Event("test.after")) == 1
    await manager.wait_idle()
    assert good.plugin.SEEN[-1] == "test.after"  # type: ignore[attr-defined]
    for bad in ("raiser", "sleeper", "blocker"):
        assert {s.name: s.health.calls for s in manager.list()}[bad] == calls_before[bad]
    assert loop_lag.worst_s < 0.15, f"event loop stalled {loop_lag.worst_s:.3f}s"

    await asyncio.wait_for(manager.stop(), 5)


@pytest.mark.allow_error_logs(
    "is unhealthy after", reason="the bad plug-ins fail on purpose until they are marked unhealthy"
)
async def test_frames_newest_first_and_producer_never_blocks(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path], loop_lag: LoopLagMeter
) -> None:
    folder = four_plugins(plugin_dir)
    manager = await started(
        PluginManager(services, folders=[folder], use_entry_points=False, budgets=FAST)
    )
    frames = FrameDispatcher(manager)
    frames.start()
    assert {s.fps for s in frames.wanted()} == {10}
    image = np.zeros((180, 320), np.uint8)
    t0 = utc_now()
    sent: list[Frame] = []
    worst_offer_s = 0.0
    for i in range(30):  # 3 s of video at 10 fps, offered as fast as possible
        frame = Frame("c1", t0 + timedelta(seconds=i / 10), image, 320, 180)
        before = time.perf_counter()
        frames.offer(frame)
        worst_offer_s = max(worst_offer_s, time.perf_counter() - before)
        sent.append(frame)
        await asyncio.sleep(0.005)
    # Offered faster than any plug-in's rate: also at the same timestamp, refused by fps.
    assert frames.offer(Frame("c1", sent[-1].time, image, 320, 180)) == 0
    good = manager.get("good")
    sleeper = manager.get("sleeper")
    assert good is not None and sleeper is not None and sleeper.runner is not None
    got = good.plugin.FRAMES  # type: ignore[union-attr]
    # The newest frame always arrives; the sleeper overruns its 0.3 s budget meanwhile.
    await eventually(
        lambda: got and got[-1] == sent[-1].time and sleeper.runner.health.timeouts >= 1,
        5,
        0.02,
        what="the newest frame delivered and the sleeper timed out",
    )
    stats = frames.stats()
    assert stats["sleeper"].dropped > 20  # stuck analyser skips frames, not the producer
    assert stats["sleeper"].delivered <= 3
    assert worst_offer_s < 0.01
    assert loop_lag.worst_s < 0.15
    await frames.stop()
    await manager.stop()


async def test_notifications_and_segments_are_isolated(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = four_plugins(plugin_dir)
    manager = await started(
        PluginManager(services, folders=[folder], use_entry_points=False, budgets=FAST)
    )
    results = await manager.deliver(Notification("chat", "Shots fired", "Main St"))
    delivered = [r for r in results if r.delivered]
    assert [(r.channel, r.detail) for r in delivered] == [("chat", "sent")]
    assert any("notify bug" in r.detail for r in results if not r.delivered)

    now = utc_now()
    segment = SegmentInfo("c1", now - timedelta(seconds=4), now, "/tmp/x.mp4", 10, "h264")
    manager.segment_closed(segment)
    await manager.wait_idle()
    raiser = manager.get("raiser")
    assert raiser is not None and raiser.runner is not None
    assert raiser.runner.health.errors == 2
    await manager.stop()


@pytest.mark.allow_error_logs(
    "is unhealthy after", reason="the bad plug-ins fail on purpose until they are marked unhealthy"
)
async def test_reload_makes_an_unhealthy_plugin_callable_again(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = plugin_dir("raiser", src.RAISER)
    plugin_dir("good", src.GOOD)
    manager = await started(
        PluginManager(
            services, folders=[folder], use_entry_points=False, budgets=FAST, failure_threshold=2
        )
    )
    for _ in range(3):
        manager.dispatch_event(Event("test.x"))
    await manager.wait_idle()
    assert {s.name: s.state for s in manager.list()}["raiser"] == "unhealthy"
    assert services.kv["good"] == {"starts": 1}  # written through by the kv store

    await manager.reload()
    status = {s.name: s for s in manager.list()}
    assert status["raiser"].state == "running" and status["raiser"].health.errors == 0
    assert manager.dispatch_event(Event("test.y")) == 2
    await manager.wait_idle()
    assert services.kv["good"] == {"starts": 2}  # state survived the reload
    await manager.stop()


async def test_a_behind_plugin_keeps_each_cameras_newest_frame(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = four_plugins(plugin_dir)
    manager = await started(
        PluginManager(services, folders=[folder], use_entry_points=False, budgets=FAST)
    )
    frames = FrameDispatcher(manager)
    frames.start()
    image = np.zeros((90, 160), np.uint8)
    t0 = utc_now()
    # Offered back to back, before the plug-in's worker can run: the lane is behind.
    first_c1 = Frame("c1", t0, image, 160, 90)
    only_c2 = Frame("c2", t0, image, 160, 90)
    newer_c1 = Frame("c1", t0 + timedelta(seconds=0.2), image, 160, 90)
    for frame in (first_c1, only_c2, newer_c1):
        frames.offer(frame)
    lane = frames._lanes["good"]
    # c1's newer frame replaced its older one; c2's frame was not pushed out by c1's.
    assert list(lane.queue) == [only_c2, newer_c1]
    assert frames.stats()["good"].dropped == 1
    await frames.stop()
    await manager.stop()


async def _stop_during_analysis(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path], budgets: CallBudgets
) -> tuple[PluginManager, Any]:
    folder = plugin_dir("slow_analyst", src.SLOW_ANALYST)
    manager = await started(
        PluginManager(services, folders=[folder], use_entry_points=False, budgets=budgets)
    )
    record = manager.get("slow_analyst")
    assert record is not None and record.plugin is not None
    module: Any = record.plugin
    frames = FrameDispatcher(manager)
    frames.start()
    frames.offer(Frame("c1", utc_now(), np.zeros((18, 32), np.uint8), 32, 18))
    await eventually(module.STARTED.is_set, 5, 0.01, what="the analysis started")
    await frames.stop()  # the host stops feeding first, as PluginHost.stop does
    await asyncio.wait_for(manager.stop(), 10)
    return manager, module


async def test_shutdown_waits_for_a_running_analysis(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    """vms_shutdown runs only after a synchronous analysis already running has finished, so
    the plug-in never uses what its shutdown released (the LPR plug-in's closed database)."""
    _manager, module = await _stop_during_analysis(services, plugin_dir, CallBudgets(shutdown=5))
    assert module.ORDER == ["analyze started", "analyze finished", "shutdown"]


async def test_a_call_outliving_the_shutdown_budget_is_reported(
    services: MemoryServices,
    plugin_dir: Callable[[str, str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    budgets = CallBudgets(shutdown=0.05)
    with caplog.at_level(logging.WARNING, logger="vms.plugins"):
        _manager, module = await _stop_during_analysis(services, plugin_dir, budgets)
    assert module.ORDER[:2] == ["analyze started", "shutdown"]
    reported = [r.getMessage() for r in caplog.records if "outlived" in r.getMessage()]
    assert reported and "vms_analyze_frame" in reported[0], caplog.text
    # The abandoned thread still ends (and fails on its closed database) on its own.
    await eventually(lambda: not _analyst_threads(), 5, 0.02, what="the abandoned thread ended")


def _analyst_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vms-plugin-slow_analyst"]
