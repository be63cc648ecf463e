"""LoopPlayer sends the loop on the wall clock: on time, monotonic, decodable."""

from __future__ import annotations

import asyncio
import itertools
import time

import av
import numpy as np

from vms_core.rtsp.media import AccessUnit
from vms_core.simulator.media import (
    AUDIO_TRACK,
    VIDEO_TRACK,
    EncodedLoop,
    LoopPlayer,
    expected_clock,
    parse_sei_send_time,
    read_clock_stripe,
)
from vms_core.simulator.media.player import LATE_AFTER_S

from .conftest import FPS, LOOP_SECONDS


def assert_paced_on_the_slots(lags: list[float]) -> None:
    """Units go out on their slots (typically within a few ms) and never early. A unit may
    be late while its process was not scheduled (a loaded machine: the player then sends
    what is due at once), so the pacing claim is on the median; how late units are is a
    figure, not a pass mark."""
    assert min(lags) > -0.001, f"a unit was sent {-min(lags):.3f}s before its slot"
    assert float(np.median(lags)) < 0.1, f"sent {np.median(lags):.3f}s after the slots (median)"


async def collect(loop: EncodedLoop, seconds: float) -> list[AccessUnit]:
    sent: list[AccessUnit] = []
    player = LoopPlayer(loop, sent.append)
    player.start()
    await asyncio.sleep(seconds)
    await player.stop()
    return sent


async def test_player_publishes_on_the_wall_clock(h264_loop: EncodedLoop) -> None:
    # Long enough to cross a loop boundary (the loop is 4 s, the player starts on an IDR).
    sent = await collect(h264_loop, LOOP_SECONDS + 1.2)
    video = [u for u in sent if u.track == VIDEO_TRACK]
    assert len(video) >= (LOOP_SECONDS + 0.1) * FPS

    stamps = [u.timestamp for u in video]
    assert stamps[0] == 0
    assert all(b - a == 90000 // FPS for a, b in itertools.pairwise(stamps))

    # Decode what was sent: the burned-in clock says which loop frame each unit is.
    decoder = av.CodecContext.create("h264", "r")
    decoded = []
    for unit in video:
        decoded.extend(decoder.decode(av.Packet(unit.data)))
    decoded.extend(decoder.decode(None))
    assert len(decoded) == len(video)
    gop = h264_loop.spec.video.gop_frames
    assert video[0].keyframe
    lags = []
    for unit, frame in zip(video, decoded, strict=True):
        clock = read_clock_stripe(frame.to_ndarray(format="rgb24"))
        assert clock is not None
        seconds, frame_in_second = clock
        loop_frame = seconds * FPS + frame_in_second
        # Loop frame i is due when (time % loop) * fps == i, and goes out at that slot (the
        # SEI says when), never early.
        assert clock == expected_clock(unit.wallclock, FPS, LOOP_SECONDS)
        sent_at = parse_sei_send_time(unit.data)
        assert sent_at is not None
        lag = (sent_at - loop_frame / FPS) % LOOP_SECONDS
        assert lag <= LATE_AFTER_S, f"frame {loop_frame} sent {lag:.3f}s after its slot"
        lags.append(lag)
        assert unit.keyframe == (loop_frame % gop == 0)
    assert_paced_on_the_slots(lags)
    # The capture time that RTCP sender reports carry moves in exact step with the RTP
    # timestamp (receivers re-base on every report; send-time jitter would show there).
    offsets = [u.wallclock - u.timestamp / 90000 for u in video]
    assert max(offsets) - min(offsets) < 1e-5


async def test_player_sends_audio_in_step_with_video(h264_loop: EncodedLoop) -> None:
    # The player waits for the next IDR (up to a GOP, 1 s) before it starts.
    sent = await collect(h264_loop, 2.2)
    audio = [u for u in sent if u.track == AUDIO_TRACK]
    video = [u for u in sent if u.track == VIDEO_TRACK]
    rate = h264_loop.spec.audio.sample_rate  # type: ignore[union-attr]
    assert len(audio) >= int(1.0 * rate / 1024)
    assert all(b.timestamp - a.timestamp == 1024 for a, b in itertools.pairwise(audio))
    # Audio timestamps follow the wall clock, and start with the video.
    for unit in audio:
        elapsed = unit.wallclock - audio[0].wallclock
        assert abs(unit.timestamp / rate - elapsed) < 0.1
    assert abs(audio[0].wallclock - video[0].wallclock) < 1024 / rate + 0.05


async def test_player_that_falls_behind_skips_to_the_next_keyframe(
    h264_loop: EncodedLoop,
) -> None:
    sent: list[AccessUnit] = []

    def slow_once(unit: AccessUnit) -> None:
        sent.append(unit)
        if len(sent) == 3:
            time.sleep(0.6)  # a stall of the event loop, far beyond late_after_s

    player = LoopPlayer(h264_loop, slow_once, late_after_s=0.2)
    player.start()
    await asyncio.sleep(2.6)
    await player.stop()
    assert player.skips >= 1
    video = [u for u in sent if u.track == VIDEO_TRACK]
    gaps = [
        i for i, (a, b) in enumerate(itertools.pairwise(video)) if b.timestamp - a.timestamp > 9000
    ]
    assert gaps, "the stall must show as a jump in timestamps, not as drift"
    for gap in gaps:
        assert video[gap + 1].keyframe, "after a skip the picture restarts on an IDR"
        jump_s = (video[gap + 1].timestamp - video[gap].timestamp) / 90000
        assert abs(jump_s - (video[gap + 1].wallclock - video[gap].wallclock)) < 0.1
    # Back on schedule after the skip: each unit sent within 100 ms of its due time, which
    # the timestamps give relative to the first unit's slot.
    first_due = np.floor(video[0].wallclock * FPS + 1e-6) / FPS
    lags = []
    for unit in video[gaps[-1] + 1 :]:
        sent_at = parse_sei_send_time(unit.data)
        assert sent_at is not None
        lags.append(sent_at - (first_due + unit.timestamp / 90000))
    assert all(lag <= player.late_after_s for lag in lags), lags  # else it had skipped again
    assert_paced_on_the_slots(lags)
    # Capture time and timestamp stay locked together across the stall and the skip.
    offsets = [u.wallclock - u.timestamp / 90000 for u in video]
    assert max(offsets) - min(offsets) < 1e-5
    assert np.all(np.diff([u.timestamp for u in video]) > 0)
