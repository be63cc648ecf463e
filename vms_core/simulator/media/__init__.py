"""Media of the simulated cameras: pictures and sound rendered once per distinct camera,
encoded once (cached on disk), then replayed forever on the wall clock.

Typical use by the simulator::

    store = LoopStore(cache_dir)
    loop = await store.get(LoopSpec(scene, VideoProfile(640, 360, 15, 800_000),
                                    AudioProfile("AAC", 16000), title="Cam 3"))
    stream = server.add_stream("/cam3/sub", track_infos(loop), credentials)
    player = LoopPlayer(loop, stream.publish)
    player.start()
"""

from vms_core.simulator.media.cache import LoopStore, load_or_encode
from vms_core.simulator.media.clock import clock_label, expected_clock, read_clock_stripe
from vms_core.simulator.media.dropper import DroppableStream, StreamDropper
from vms_core.simulator.media.encoder import (
    EncodedLoop,
    EncodedTrack,
    EncodedUnit,
    LoopSpec,
    encode_loop,
)
from vms_core.simulator.media.nal import SEND_TIME_UUID, parse_sei_send_time
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.profiles import AudioProfile, VideoProfile
from vms_core.simulator.media.scene import (
    PersonScene,
    SceneConfig,
    SceneEvent,
    SoundScene,
    VehicleScene,
)
from vms_core.simulator.media.tracks import (
    AUDIO_TRACK,
    VIDEO_TRACK,
    audio_track_info,
    track_infos,
    video_track_info,
)

__all__ = [
    "AUDIO_TRACK",
    "SEND_TIME_UUID",
    "VIDEO_TRACK",
    "AudioProfile",
    "DroppableStream",
    "EncodedLoop",
    "EncodedTrack",
    "EncodedUnit",
    "LoopPlayer",
    "LoopSpec",
    "LoopStore",
    "PersonScene",
    "SceneConfig",
    "SceneEvent",
    "SoundScene",
    "StreamDropper",
    "VehicleScene",
    "VideoProfile",
    "audio_track_info",
    "clock_label",
    "encode_loop",
    "expected_clock",
    "load_or_encode",
    "parse_sei_send_time",
    "read_clock_stripe",
    "track_infos",
    "video_track_info",
]
