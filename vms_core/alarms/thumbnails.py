"""An alarm's thumbnail: the camera's picture at the event's time, small and bounded.

Where the picture comes from, in order:

1. the recording: the frame shown at the event time, decoded from the segment that
   covers it (an open segment is read up to its last complete fragment; a fragment is at
   most a second, so a fresh event waits a moment for it);
2. the live picture, for an event that is happening now (a camera that does not record,
   or whose segment is not in the catalog yet): the camera's ONVIF snapshot or a
   keyframe of its live feed (``vms_core.cameras.snapshot``);
3. nothing, with the reason (an old event on a camera that recorded nothing then).

Every picture is scaled to at most ``width`` pixels wide and re-encoded as JPEG until it
fits ``max_bytes``, so the folder grows by a known amount per alarm.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from vms_core.db.engine import Database
from vms_core.playback.boxes import BoundedFile, complete_length
from vms_core.playback.catalog import segments_in_range
from vms_core.playback.remux import SourceSegment
from vms_core.timeutil import now_us

if TYPE_CHECKING:  # Pillow is loaded by the first thumbnail, not with the server
    from PIL import Image

log = logging.getLogger(__name__)

# An event this recent may take its picture from the live feed.
LIVE_WINDOW_US = 30_000_000
# How long to wait for the recording to reach the event time (the open segment's next
# fragment, or the catalog row of a segment that has just started).
RECORDING_WAIT_S = 4.0
RECORDING_RETRY_S = 1.0
# Quality steps tried until the picture fits; then the size shrinks.
JPEG_QUALITIES = (80, 65, 50, 35)

LivePicture = Callable[[int], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class Picture:
    jpeg: bytes
    source: str  # "recording" | "live"


class NoPicture(Exception):
    """No picture of the event time can be had; the message says why."""


def bounded_jpeg(picture: Image.Image, width: int, max_bytes: int) -> bytes:
    """``picture`` as a JPEG at most ``width`` pixels wide and ``max_bytes`` long."""
    image = picture.convert("RGB")
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    while True:
        for quality in JPEG_QUALITIES:
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue()
        if image.width <= 16:
            raise NoPicture(f"the picture does not fit in {max_bytes} bytes")
        image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)))


def shrink_jpeg(data: bytes, width: int, max_bytes: int) -> bytes:
    """A JPEG or PNG from a camera, bounded like :func:`bounded_jpeg`. Blocking."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            return bounded_jpeg(picture, width, max_bytes)
    except (OSError, ValueError) as exc:  # Pillow's "cannot identify image file"
        raise NoPicture(f"the camera's picture is not an image: {exc}") from None


def frame_at(segment: SourceSegment, time_us: int) -> Image.Image | None:
    """The picture shown at ``time_us`` in a recorded segment (the last frame at or
    before it), or ``None`` when the file does not reach that time yet. Blocking."""
    limit = complete_length(segment.path)
    if limit == 0:
        return None
    offset_us = max(0, time_us - segment.start_us)
    source = BoundedFile(segment.path, limit)
    try:
        with av.open(source, "r") as container:
            stream = container.streams.video[0]
            base: Fraction = stream.time_base or Fraction(1, 90_000)
            target = int(Fraction(offset_us, 1_000_000) / base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            shown: Any = None
            reached = False
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if frame.pts > target:
                    reached = True
                    shown = shown or frame  # the first picture, when the seek overshot
                    break
                shown = frame
            if not reached and segment.end_us is None:
                # The open segment ends before the event time: the fragment holding it
                # is not written yet.
                return None
            return None if shown is None else shown.to_image()
    finally:
        source.close()


class CameraPictures:
    """Finds the picture of a camera at a time (recording first, then live)."""

    def __init__(self, db: Database, recordings: Path, live: LivePicture) -> None:
        self.db = db
        self.recordings = recordings
        self.live = live

    async def at(self, camera_id: int, time_us: int, width: int, max_bytes: int) -> Picture:
        waited = 0.0
        while True:
            segments = await segments_in_range(
                self.db, self.recordings, camera_id, time_us, time_us + 1
            )
            for segment in segments:
                try:
                    image = await asyncio.to_thread(frame_at, segment, time_us)
                except (OSError, av.FFmpegError) as exc:
                    log.info("thumbnail: cannot read %s: %s", segment.path, exc)
                    continue
                if image is not None:
                    jpeg = await asyncio.to_thread(bounded_jpeg, image, width, max_bytes)
                    return Picture(jpeg, "recording")
            fresh = now_us() - time_us < LIVE_WINDOW_US
            if not fresh or waited >= RECORDING_WAIT_S:
                break
            if not segments:
                break  # nothing records this camera now: the live picture is as good
            await asyncio.sleep(RECORDING_RETRY_S)  # the next fragment is due within 1 s
            waited += RECORDING_RETRY_S
        if now_us() - time_us >= LIVE_WINDOW_US:
            raise NoPicture("no recording at the event time")
        data = await self.live(camera_id)
        if data is None:
            raise NoPicture("no recording at the event time, and no live picture")
        jpeg = await asyncio.to_thread(shrink_jpeg, data, width, max_bytes)
        return Picture(jpeg, "live")
