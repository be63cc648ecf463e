"""Encoding a camera's loop once, with PyAV (blocking: run it in a worker thread/process).

Video: H.264 (libx264) or H.265 (libx265), no B-frames, a fixed GOP with no scene-cut
keyframes, parameter sets repeated before every IDR, Annex-B. The loop starts with an IDR and
is a whole number of GOPs, so playing it round and round is a valid stream.

Audio: AAC-LC raw frames (1024 samples) or PCMU 20 ms packets. The sound repeats with the
video loop. AAC frames do not always tile the loop (60 s at 16 kHz is 937.5 frames), so the
encoded audio run covers the smallest number of loops that is a whole number of frames
(2 loops in that case); it is encoded with the wrap-around samples before and after it, so
the seam is as clean as any other frame boundary.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from math import gcd
from typing import Literal, cast

import av
import numpy as np
import PIL
from av.video.codeccontext import VideoCodecContext

from vms_core.simulator.media.nal import (
    h264_nal_type,
    h265_nal_type,
    split_annexb,
)
from vms_core.simulator.media.profiles import AAC_SAMPLE_RATES, AudioProfile, VideoProfile
from vms_core.simulator.media.render import FrameRenderer
from vms_core.simulator.media.scene import SceneConfig, SceneEvent
from vms_core.simulator.media.sound import synthesize_loop

# Bump when the picture, sound or encoding changes, so stale cached loops are not reused.
FORMAT_VERSION = 3
VIDEO_CLOCK_RATE = 90_000
_MAX_AUDIO_LOOPS = 4
_H264_PARAMETER_TYPES = {7: "sps", 8: "pps"}
_H265_PARAMETER_TYPES = {32: "vps", 33: "sps", 34: "pps"}


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """Every input of an encoded loop. Equal specs give identical loops (the cache key)."""

    scene: SceneConfig
    video: VideoProfile
    audio: AudioProfile | None = None
    title: str | None = None  # burned-in camera name; None to share one loop between cameras

    def __post_init__(self) -> None:
        frames = self.scene.loop_seconds * self.video.fps
        if frames % self.video.gop_frames:
            raise ValueError(
                f"the {self.scene.loop_seconds}s loop ({frames} frames) must be a whole "
                f"number of {self.video.gop_frames}-frame GOPs"
            )
        if self.audio is not None and audio_loops_per_run(self) > _MAX_AUDIO_LOOPS:
            raise ValueError(
                f"{self.audio.sample_rate} Hz AAC does not fit the loop in whole frames; "
                "use 16000, 32000 or 48000 Hz"
            )

    def cache_key(self) -> str:
        inputs = {
            "format": FORMAT_VERSION,
            "pyav": av.__version__,
            "pillow": PIL.__version__,
            # Drop emulation happens at play time: it does not change the media.
            "scene": {**asdict(self.scene), "drop_every_s": None, "down_s": None},
            "video": asdict(self.video),
            "audio": asdict(self.audio) if self.audio else None,
            "title": self.title,
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def audio_loops_per_run(spec: LoopSpec) -> int:
    """How many loops the encoded audio run spans so it is a whole number of frames."""
    assert spec.audio is not None
    samples = spec.scene.loop_seconds * spec.audio.sample_rate
    return spec.audio.frame_samples // gcd(samples, spec.audio.frame_samples)


@dataclass(frozen=True, slots=True)
class EncodedUnit:
    """One access unit of the loop. ``pts`` counts the track's clock from the run start."""

    data: bytes
    keyframe: bool
    pts: int


@dataclass(frozen=True, slots=True)
class EncodedTrack:
    """A run of access units that repeats every ``period_ticks`` of ``clock_rate``."""

    kind: Literal["video", "audio"]
    codec: str
    clock_rate: int
    period_ticks: int
    units: tuple[EncodedUnit, ...]

    @property
    def period_seconds(self) -> float:
        return self.period_ticks / self.clock_rate


@dataclass(frozen=True, slots=True)
class EncodedLoop:
    """A camera's pre-encoded media, ready to be played aligned to the wall clock."""

    spec: LoopSpec
    video: EncodedTrack
    audio: EncodedTrack | None
    # Parameter sets as NAL units without start codes: "sps", "pps" (and "vps" for H.265).
    parameter_sets: dict[str, bytes]
    audio_config: str | None = None  # AAC AudioSpecificConfig, hex, for SDP config=
    encode_seconds: float = 0.0
    from_cache: bool = False
    events: tuple[SceneEvent, ...] = field(default=())

    @property
    def loop_seconds(self) -> int:
        return self.spec.scene.loop_seconds


def encode_loop(spec: LoopSpec) -> EncodedLoop:
    """Render and encode the loop. Blocking and CPU-heavy: never call it on the event loop."""
    started = time.perf_counter()
    video, parameter_sets = encode_video(spec)
    audio = encode_audio(spec) if spec.audio is not None else None
    return EncodedLoop(
        spec=spec,
        video=video,
        audio=audio,
        parameter_sets=parameter_sets,
        audio_config=aac_audio_specific_config(spec.audio.sample_rate)
        if spec.audio is not None and spec.audio.codec == "AAC"
        else None,
        encode_seconds=time.perf_counter() - started,
        events=tuple(spec.scene.events()),
    )


def _video_codec_context(profile: VideoProfile) -> VideoCodecContext:
    gop = profile.gop_frames
    kbps = profile.bitrate // 1000
    name = "libx264" if profile.codec == "H264" else "libx265"
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width = profile.width
    ctx.height = profile.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, profile.fps)
    ctx.framerate = Fraction(profile.fps, 1)
    ctx.bit_rate = profile.bitrate
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    if profile.codec == "H264":
        ctx.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "x264-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:"
                f"vbv-maxrate={kbps}:vbv-bufsize={kbps}"
            ),
        }
    else:
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0:"
                f"repeat-headers=1:vbv-maxrate={kbps}:vbv-bufsize={kbps}:log-level=error"
            ),
        }
    return ctx


def encode_video(spec: LoopSpec) -> tuple[EncodedTrack, dict[str, bytes]]:
    profile = spec.video
    renderer = FrameRenderer(profile, spec.scene, spec.title)
    ctx = _video_codec_context(profile)
    frame_count = spec.scene.loop_seconds * profile.fps
    packets: list[tuple[bytes, bool]] = []
    for index in range(frame_count):
        frame = av.VideoFrame.from_ndarray(renderer.render(index), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = index
        packets.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(frame))
    packets.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(None))
    if len(packets) != frame_count:
        raise RuntimeError(f"encoder returned {len(packets)} pictures for {frame_count} frames")
    parameter_types = _H264_PARAMETER_TYPES if profile.codec == "H264" else _H265_PARAMETER_TYPES
    nal_type = h264_nal_type if profile.codec == "H264" else h265_nal_type
    parameter_sets: dict[str, bytes] = {}
    units: list[EncodedUnit] = []
    for index, (data, keyframe) in enumerate(packets):
        should_be_key = index % profile.gop_frames == 0
        if keyframe != should_be_key:
            raise RuntimeError(f"frame {index}: keyframe={keyframe}, expected {should_be_key}")
        if keyframe:
            for nal in split_annexb(data):
                name = parameter_types.get(nal_type(nal))
                if name is not None:
                    parameter_sets.setdefault(name, nal)
        pts = index * VIDEO_CLOCK_RATE // profile.fps
        units.append(EncodedUnit(data=data, keyframe=keyframe, pts=pts))
    missing = set(parameter_types.values()) - set(parameter_sets)
    if missing:
        raise RuntimeError(f"no {sorted(missing)} before the IDR pictures")
    track = EncodedTrack(
        kind="video",
        codec=profile.codec,
        clock_rate=VIDEO_CLOCK_RATE,
        period_ticks=spec.scene.loop_seconds * VIDEO_CLOCK_RATE,
        units=tuple(units),
    )
    return track, parameter_sets


def encode_audio(spec: LoopSpec) -> EncodedTrack:
    profile = spec.audio
    assert profile is not None
    period = synthesize_loop(spec.scene, profile.sample_rate)
    run = np.tile(period, audio_loops_per_run(spec))
    if profile.codec == "PCMU":
        data = _encode_pcmu(run)
        size = profile.frame_samples
        units = [
            EncodedUnit(data=data[at : at + size], keyframe=True, pts=at)
            for at in range(0, len(data), size)
        ]
    else:
        units = _encode_aac(run, profile)
    return EncodedTrack(
        kind="audio",
        codec=profile.codec,
        clock_rate=profile.sample_rate,
        period_ticks=len(run),
        units=tuple(units),
    )


def _encode_pcmu(samples: np.ndarray) -> bytes:
    ctx = av.CodecContext.create("pcm_mulaw", "w")
    ctx.sample_rate = 8000
    ctx.layout = "mono"
    ctx.format = "s16"
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = 8000
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


def _encode_aac(run: np.ndarray, profile: AudioProfile) -> list[EncodedUnit]:
    size = profile.frame_samples
    # Encode with the run's own tail before it and head after it: the first and last kept
    # frames then overlap-add with the same neighbours they meet when the run repeats.
    guard = 2 * size
    padded = np.concatenate([run[-guard:], run, run[:guard]]).astype(np.float32)
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate = profile.sample_rate
    ctx.layout = "mono"
    ctx.format = "fltp"
    ctx.bit_rate = profile.bitrate
    ctx.time_base = Fraction(1, profile.sample_rate)
    units: list[EncodedUnit] = []
    packets = []
    for at in range(0, len(padded), size):
        frame = av.AudioFrame.from_ndarray(
            padded[at : at + size].reshape(1, -1), format="fltp", layout="mono"
        )
        frame.sample_rate = profile.sample_rate
        frame.pts = at
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    for packet in packets:
        # A packet's pts is the first input sample it reproduces (after encoder priming).
        if packet.pts is not None and guard <= packet.pts < guard + len(run):
            units.append(EncodedUnit(data=bytes(packet), keyframe=True, pts=packet.pts - guard))
    if len(units) != len(run) // size:
        raise RuntimeError(f"AAC encoder gave {len(units)} frames, expected {len(run) // size}")
    return units


def aac_audio_specific_config(sample_rate: int, channels: int = 1) -> str:
    """AudioSpecificConfig of AAC-LC (object type 2) as hex, e.g. "1408" for 16 kHz mono."""
    index = AAC_SAMPLE_RATES.index(sample_rate)
    value = (2 << 11) | (index << 7) | (channels << 3)
    return f"{value:04x}"
