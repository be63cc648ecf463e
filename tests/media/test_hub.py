"""StreamHub fan-out: slow subscribers drop their own data, late ones start on a keyframe."""

from __future__ import annotations

import asyncio
import threading
import time
from fractions import Fraction

from vms_core.media.hub import StreamHub
from vms_core.media.packet import MediaPacket
from vms_core.media.stream_info import StreamInfo, StreamSession

SESSION = StreamSession(1, StreamInfo("h264", 320, 180, 25.0), {}, None)
GOP = 25


def packet(n: int) -> MediaPacket:
    """Video frame n of a 25 fps stream with a keyframe every GOP frames."""
    return MediaPacket("video", b"x" * 100, n, n, Fraction(1, 25), n % GOP == 0, n / 25, SESSION)


def test_late_subscriber_starts_on_the_last_keyframe() -> None:
    hub = StreamHub("cam")
    for n in range(60):  # keyframes at 0, 25, 50
        hub.publish(packet(n))
    late = hub.subscribe("late")
    first = late.get(0)
    assert first is not None and first.keyframe and first.pts == 50
    received = [first.pts]
    while (item := late.get(0)) is not None:
        received.append(item.pts)
    assert received == list(range(50, 60))  # whole GOP, at once, in order


def test_slow_subscriber_does_not_stall_a_fast_one() -> None:
    """A subscriber that never reads drops its own backlog: publishing never waits for it
    (were it to, this test would hang) and the other subscriber loses nothing."""
    hub = StreamHub("cam")
    slow = hub.subscribe("slow", maxsize=30)
    fast = hub.subscribe("fast", maxsize=1000)
    fast_got: list[int] = []

    def consume_fast() -> None:
        while (item := fast.get()) is not None:
            fast_got.append(item.pts)

    consumer = threading.Thread(target=consume_fast)
    consumer.start()
    for n in range(520):
        hub.publish(packet(n))
    fast.close()
    consumer.join(5)
    assert fast_got == list(range(520))  # the fast one lost nothing
    # The slow one (never read) dropped its backlog and holds a run from a keyframe.
    assert slow.dropped > 400
    kept = []
    while (item := slow.get(0)) is not None:
        kept.append(item)
    assert kept and kept[0].keyframe
    assert [p.pts for p in kept] == list(range(kept[0].pts, kept[0].pts + len(kept)))


def test_slow_subscriber_resumes_at_next_keyframe_after_overflow() -> None:
    hub = StreamHub("cam", keep_gop=False)
    sub = hub.subscribe("viewer", maxsize=10)
    for n in range(12):  # overflows at frame 10: backlog dropped, frames 10..24 skipped
        hub.publish(packet(n))
    assert sub.get(0) is None
    for n in range(12, 30):
        hub.publish(packet(n))
    item = sub.get(0)
    assert item is not None and item.pts == 25 and item.keyframe


async def test_async_subscriber_gets_packets_from_an_ingest_thread() -> None:
    hub = StreamHub("cam")
    sub = hub.subscribe_async("webrtc", maxsize=100)

    def produce() -> None:
        for n in range(50):
            hub.publish(packet(n))
            time.sleep(0.001)

    producer = threading.Thread(target=produce)
    producer.start()
    got = []
    async with asyncio.timeout(5):
        while len(got) < 50:
            item = await sub.get()
            assert item is not None
            got.append(item.pts)
    producer.join()
    assert got == list(range(50))
    sub.close()
    assert await sub.get() is None


def test_close_all_ends_every_subscription_and_wakes_a_waiting_consumer() -> None:
    """A live feed that closes ends its viewers: one blocked in get() wakes with None, and
    nothing published afterwards reaches anyone."""
    hub = StreamHub("cam")
    waiting = hub.subscribe("viewer")
    idle = hub.subscribe("plug-in")
    got: list[MediaPacket | None] = []
    consumer = threading.Thread(target=lambda: got.append(waiting.get(60)))  # hang guard
    consumer.start()
    hub.close_all()
    consumer.join(30)
    assert not consumer.is_alive() and got == [None]
    assert hub.subscriber_count == 0
    hub.publish(packet(0))
    assert idle.get(0) is None and waiting.get(0) is None
