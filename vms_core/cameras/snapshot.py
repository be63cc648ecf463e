"""A JPEG of a camera's current picture.

ONVIF cameras with a snapshot URI are asked for one (digest auth, basic if the camera wants
it). Otherwise, and also when that fails (no answer, an HTTP error, not a JPEG), the first
video keyframe of the camera's live feed (``server.live``, sub stream preferred: smaller to
decode) is decoded and encoded as JPEG, in a thread. Only when both fail is it an error,
naming both reasons.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any

import av

from vms_core.cameras.health import open_device
from vms_core.cameras.service import CameraService
from vms_core.db.models import Camera
from vms_core.live import LiveFeed, LiveSources
from vms_core.media.packet import MediaPacket
from vms_core.onvif.client import OnvifError

if TYPE_CHECKING:  # Pillow is loaded by the first snapshot decoded (av's to_image)
    from PIL import Image

log = logging.getLogger(__name__)


class SnapshotError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def decode_keyframe_jpeg(packet: MediaPacket, codec_name: str, extradata: bytes | None) -> bytes:
    """Decode one keyframe (blocking; run it in a thread) and encode it as JPEG."""
    decoder: Any = av.CodecContext.create(codec_name, "r")
    if extradata:
        decoder.extradata = extradata
    data = packet.data if isinstance(packet.data, bytes) else bytes(packet.data)
    frames = list(decoder.decode(av.Packet(data)))
    frames += list(decoder.decode(None))
    if not frames:
        raise ValueError("the keyframe did not decode")
    picture: Image.Image = frames[0].to_image()
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


class Snapshots:
    def __init__(self, cameras: CameraService, live: LiveSources, timeout: float = 10.0) -> None:
        self.cameras = cameras
        self.live = live
        self.timeout = timeout

    async def jpeg(self, camera_id: int) -> bytes:
        camera = await self.cameras.get(camera_id)
        if camera is None:
            raise SnapshotError(404, f"no camera {camera_id}")
        own_failure = ""
        if camera.onvif_url:
            try:
                jpeg = await self._from_camera(camera)
            except OnvifError as err:
                own_failure = err.reason
                log.info(
                    "camera %s: its own snapshot failed (%s); decoding a live keyframe",
                    camera.name,
                    own_failure,
                )
            else:
                if jpeg is not None:
                    return jpeg
        try:
            return await self._from_live(camera_id)
        except SnapshotError as err:
            if not own_failure:
                raise
            raise SnapshotError(
                502, f"camera {camera.name}: {own_failure}; live keyframe: {err.message}"
            ) from None

    async def _from_camera(self, camera: Camera) -> bytes | None:
        """The camera's own JPEG, or None when it has no snapshot URI. Raises OnvifError."""
        main = next((s for s in camera.streams if s.role == "main"), None)
        device = await open_device(self.cameras, camera, self.timeout)
        try:
            token = main.profile_token if main is not None else ""
            if not token:  # stream URLs from the settings: ask the camera
                token = (await device.profiles(with_uris=False))[0].token
            uri = await device.snapshot_uri(token)
            return await device.snapshot(uri) if uri else None
        finally:
            await device.close()

    async def _from_live(self, camera_id: int) -> bytes:
        try:
            feed = await self.live.acquire(camera_id, "sub")
        except LookupError as err:
            raise SnapshotError(409, str(err)) from None
        try:
            return await asyncio.wait_for(self._decode_first_keyframe(feed), self.timeout)
        except TimeoutError:
            raise SnapshotError(
                504, f"camera {camera_id}: no picture within {self.timeout:g} s"
            ) from None
        finally:
            feed.release()

    async def _decode_first_keyframe(self, feed: LiveFeed) -> bytes:
        if not await feed.wait_ready(self.timeout):
            raise TimeoutError
        info = feed.info()
        subscription = feed.hub.subscribe_async("snapshot", maxsize=64)
        try:
            while True:
                packet = await subscription.get()
                if packet is None:
                    raise SnapshotError(502, "the stream ended before a keyframe")
                if packet.kind != "video" or not packet.keyframe:
                    continue
                codec = info.video_codec if info is not None else "h264"
                try:
                    return await asyncio.to_thread(
                        decode_keyframe_jpeg, packet, codec, feed.video_extradata()
                    )
                except (ValueError, av.FFmpegError) as err:
                    log.warning("snapshot decode failed: %s", err)
                    continue
        finally:
            feed.hub.unsubscribe(subscription)
