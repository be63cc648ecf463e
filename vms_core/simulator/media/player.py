"""Playing an encoded loop on the wall clock, forever.

Unit ``j`` of a track whose run repeats every ``period`` seconds is due at
``k * period + offset_j`` for every whole ``k`` (seconds since the epoch), so the loop is
always aligned to the wall clock: loop frame ``i`` goes out when
``(time.time() % loop_seconds) * fps == i``, whenever the player was started. Each due time is
computed from the epoch, never by adding up sleeps, so nothing drifts. A player held up for
a moment (its machine busy, its process not scheduled) sends the late units late, as a real
camera's TCP connection delivers what queued during a network hiccup: a camera does not lose
frames because its host paused. One that falls behind by more than ``late_after_s`` skips
ahead, so a simulator that cannot keep up does not build a backlog: video to the next
keyframe (so the picture never shows a broken reference), audio to the current frame.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from vms_core.rtsp.media import AccessUnit
from vms_core.simulator.media.encoder import EncodedLoop, EncodedTrack
from vms_core.simulator.media.nal import (
    H264_SEI_HEADER,
    H265_PREFIX_SEI_HEADER,
    START_CODE,
    h264_nal_type,
    h265_nal_type,
    send_time_sei,
    split_annexb,
)
from vms_core.simulator.media.tracks import AUDIO_TRACK, VIDEO_TRACK

log = logging.getLogger(__name__)
# How late a player may fall before it skips ahead. It was 0.25 s: a test process that was
# not scheduled for that long on a loaded 2-core CI machine made its simulated camera drop
# frames, and recording tests counted them missing from the recording.
LATE_AFTER_S = 2.0


@dataclass(frozen=True, slots=True)
class _SplitPicture:
    """A picture cut where the send-time SEI goes: after parameter sets/AUD/other SEI,
    before the first slice. Both halves keep their start codes."""

    head: bytes
    slices: bytes


def _split_pictures(track: EncodedTrack) -> list[_SplitPicture]:
    h264 = track.codec == "H264"
    split: list[_SplitPicture] = []
    for unit in track.units:
        nals = split_annexb(unit.data)
        first_slice = next(
            index
            for index, nal in enumerate(nals)
            if (1 <= h264_nal_type(nal) <= 5 if h264 else h265_nal_type(nal) <= 31)
        )
        split.append(
            _SplitPicture(
                head=b"".join(START_CODE + nal for nal in nals[:first_slice]),
                slices=b"".join(START_CODE + nal for nal in nals[first_slice:]),
            )
        )
    return split


class _Cursor:
    """Where one track is in its endless repetition: run iteration ``k``, unit ``j``."""

    def __init__(self, track: EncodedTrack, number: int) -> None:
        self.track = track
        self.number = number
        self.period_s = track.period_seconds
        self.offsets = [unit.pts / track.clock_rate for unit in track.units]
        self.key_indices = [i for i, unit in enumerate(track.units) if unit.keyframe]
        self.key_offsets = [self.offsets[i] for i in self.key_indices]
        self.k = 0
        self.j = 0
        self.first_ticks: int | None = None

    @property
    def due(self) -> float:
        return self.k * self.period_s + self.offsets[self.j]

    @property
    def absolute_ticks(self) -> int:
        return self.k * self.track.period_ticks + self.track.units[self.j].pts

    def seek(self, when: float, keyframes_only: bool) -> None:
        """Move to the first unit due at or after ``when`` (a keyframe if asked)."""
        self.k = math.floor(when / self.period_s)
        phase = when - self.k * self.period_s
        if keyframes_only:
            at = bisect.bisect_left(self.key_offsets, phase)
            if at < len(self.key_indices):
                self.j = self.key_indices[at]
                return
        else:
            at = bisect.bisect_left(self.offsets, phase)
            if at < len(self.offsets):
                self.j = at
                return
        self.k += 1
        self.j = self.key_indices[0] if keyframes_only else 0

    def advance(self) -> None:
        self.j += 1
        if self.j == len(self.offsets):
            self.j = 0
            self.k += 1

    def timestamp(self) -> int:
        """Monotonic across loop iterations, starting at 0 with the first unit sent."""
        ticks = self.absolute_ticks
        if self.first_ticks is None:
            self.first_ticks = ticks
        return ticks - self.first_ticks


class LoopPlayer:
    """Publishes ``loop``'s access units on the wall clock. Video is track 0 and every
    picture carries its send time in an SEI; audio (if any) is track 1.

    ``publish`` is called on the event loop and must not block."""

    def __init__(
        self,
        loop: EncodedLoop,
        publish: Callable[[AccessUnit], None],
        *,
        late_after_s: float = LATE_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.loop = loop
        self.publish = publish
        self.late_after_s = late_after_s
        self.clock = clock
        self.skips = 0  # times the player fell behind and skipped ahead
        self._pictures = _split_pictures(loop.video)
        self._sei_header = H264_SEI_HEADER if loop.video.codec == "H264" else H265_PREFIX_SEI_HEADER
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="simulator-loop-player")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # wait() neither raises the task's CancelledError nor swallows our own.
            await asyncio.wait([task])
            if not task.cancelled():
                task.result()  # a task that failed says so, as awaiting it did

    # ``wallclock`` is the slot the unit is due in (its "capture time"), which moves in exact
    # step with its timestamp; the SEI carries the moment it was actually sent.
    def _video_unit(self, cursor: _Cursor, now: float) -> AccessUnit:
        picture = self._pictures[cursor.j]
        sei = START_CODE + send_time_sei(self._sei_header, now)
        return AccessUnit(
            track=VIDEO_TRACK,
            data=picture.head + sei + picture.slices,
            timestamp=cursor.timestamp(),
            wallclock=cursor.due,
            keyframe=cursor.track.units[cursor.j].keyframe,
        )

    def _audio_unit(self, cursor: _Cursor) -> AccessUnit:
        unit = cursor.track.units[cursor.j]
        return AccessUnit(
            track=AUDIO_TRACK,
            data=unit.data,
            timestamp=cursor.timestamp(),
            wallclock=cursor.due,
            keyframe=True,
        )

    async def run(self) -> None:
        video = _Cursor(self.loop.video, VIDEO_TRACK)
        video.seek(self.clock(), keyframes_only=True)  # start on an IDR
        cursors = [video]
        if self.loop.audio is not None:
            audio = _Cursor(self.loop.audio, AUDIO_TRACK)
            audio.seek(video.due, keyframes_only=False)
            cursors.append(audio)
        while True:
            cursor = min(cursors, key=lambda c: c.due)
            due = cursor.due
            delay = due - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            now = self.clock()
            if now - due > self.late_after_s:
                self.skips += 1
                # Routine on a busy machine (a first start encodes while it plays): the
                # skip is the remedy, and a receiver sees at most a frozen picture.
                log.debug("loop player %.3fs late; skipping ahead", now - due)
                cursor.seek(now, keyframes_only=cursor is video)
                continue
            unit = self._video_unit(cursor, now) if cursor is video else self._audio_unit(cursor)
            try:
                self.publish(unit)
            except Exception:
                log.exception("publishing a simulated access unit failed")
            cursor.advance()
