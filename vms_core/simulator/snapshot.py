"""JPEG snapshots: the frame the camera's RTSP stream shows at this moment (same scene,
same burned-in clock), rendered by the media package's FrameRenderer and encoded by Pillow.

Blocking (numpy, Pillow): call ``jpeg`` from a worker thread.
"""

from __future__ import annotations

import io
import threading
import time

from PIL import Image

from vms_core.simulator.config import CameraConfig
from vms_core.simulator.media.render import FrameRenderer
from vms_core.simulator.media_specs import loop_spec

JPEG_QUALITY = 85


class SnapshotRenderer:
    """One FrameRenderer per profile, built on first use (it precomputes its background)."""

    def __init__(self, camera: CameraConfig) -> None:
        self.camera = camera
        self._renderers: dict[str, FrameRenderer] = {}
        self._lock = threading.Lock()

    def _renderer(self, profile: str) -> FrameRenderer:
        with self._lock:
            renderer = self._renderers.get(profile)
            if renderer is None:
                spec = loop_spec(self.camera, profile)
                renderer = FrameRenderer(spec.video, spec.scene, spec.title)
                self._renderers[profile] = renderer
            return renderer

    def jpeg(self, profile: str, wall_time: float | None = None) -> bytes:
        renderer = self._renderer(profile)
        moment = time.time() if wall_time is None else wall_time
        # The loop players map wall-clock time to a loop frame the same way.
        loop_seconds = renderer.scene.loop_seconds
        loop_frame = int((moment % loop_seconds) * renderer.video.fps + 1e-6)
        out = io.BytesIO()
        Image.fromarray(renderer.render(loop_frame)).save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue()
