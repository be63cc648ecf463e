"""JPEG snapshots: the frame the camera's RTSP stream shows at this moment (same scene,
same burned-in clock), rendered by the media package's FrameRenderer and encoded by Pillow.

Blocking (numpy, Pillow): call ``jpeg`` from a worker thread.
"""

from __future__ import annotations

import io
import threading
import time

import numpy as np
from PIL import Image

from vms_core.simulator.config import CameraConfig
from vms_core.simulator.media.render import FrameRenderer
from vms_core.simulator.media_specs import loop_spec
from vms_core.simulator.ptz import PtzPosition

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

    def jpeg(
        self, profile: str, wall_time: float | None = None, view: PtzPosition | None = None
    ) -> bytes:
        """The frame shown at ``wall_time`` (default now), seen through the PTZ head at
        ``view``: pan and tilt shift the picture, zoom crops into its centre."""
        renderer = self._renderer(profile)
        moment = time.time() if wall_time is None else wall_time
        # The loop players map wall-clock time to a loop frame the same way.
        loop_seconds = renderer.scene.loop_seconds
        loop_frame = int((moment % loop_seconds) * renderer.video.fps + 1e-6)
        image = Image.fromarray(renderer.render(loop_frame))
        if view is not None and view != PtzPosition():
            image = _through_head(image, view)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue()


def _through_head(image: Image.Image, view: PtzPosition) -> Image.Image:
    # A pre-encoded stream cannot follow the head; the snapshot can, so a client sees
    # its PTZ command take effect.
    width, height = image.size
    pixels = np.asarray(image)
    pixels = np.roll(pixels, -round(view.pan * width / 2), axis=1)
    pixels = np.roll(pixels, round(view.tilt * height / 4), axis=0)
    moved = Image.fromarray(pixels)
    scale = 1.0 + 3.0 * view.zoom
    if scale > 1.0:
        crop_w, crop_h = width / scale, height / scale
        left, top = (width - crop_w) / 2, (height - crop_h) / 2
        moved = moved.resize(image.size, box=(left, top, left + crop_w, top + crop_h))
    return moved
