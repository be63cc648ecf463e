import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
from vms_sdk import AudioChunk, utc_now

from tests.eventually import eventually
from tests.plugins import plugin_sources as src
from tests.plugins.conftest import MemoryServices, granted, started
from vms_core.plugins import AudioDispatcher, PluginManager


async def test_audio_chunks_reach_subscribed_plugin_and_it_can_publish(
    services: MemoryServices, plugin_dir: Callable[[str, str], Path]
) -> None:
    folder = plugin_dir("listener", src.LISTENER)
    manager = await started(
        PluginManager(services, granted("listener"), [folder], use_entry_points=False)
    )
    audio = AudioDispatcher(manager)
    audio.start()
    assert [(s.sample_rate, s.camera_ids) for s in audio.wanted()] == [(8000, ("c1",))]

    t0 = utc_now()
    quiet = np.zeros(4000, np.float32)
    bang = quiet.copy()
    bang[2000] = 0.97
    assert audio.offer(AudioChunk("c1", t0, 8000, quiet)) == 1
    assert audio.offer(AudioChunk("c2", t0, 8000, bang)) == 0  # not subscribed
    # from a decoder thread, as the media side will do
    await asyncio.to_thread(
        audio.offer_threadsafe, AudioChunk("c1", t0 + timedelta(seconds=0.5), 8000, bang)
    )
    await eventually(lambda: services.events, 5, 0.02, what="the gunshot event")
    assert services.kv["listener"]["loudest"] == [["c1", 0.0], ["c1", 0.97]]
    assert [(e.type, e.source, e.camera_ids) for e in services.events] == [
        ("gunshot.detected", "listener", ("c1",))
    ]
    # Counted when the call returns, which can come after the event it published.
    await eventually(
        lambda: audio.stats()["listener"].delivered == 2, 5, 0.02, what="both chunks delivered"
    )
    await audio.stop()
    await manager.stop()
