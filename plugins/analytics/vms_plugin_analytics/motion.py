"""Motion per camera: a MOG2 background model, limited to zones and minus masks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
import numpy.typing as npt

from vms_plugin_analytics.settings import CameraRules, Polygon

Image = npt.NDArray[np.uint8]

_WIDTH = 320  # the model runs on a small grey copy: cheap, and plenty for "something moved"
_WARMUP_FRAMES = 3
_END_AFTER = timedelta(seconds=3)  # still this long ends a motion episode


def polygon_mask(polygons: tuple[Polygon, ...], width: int, height: int) -> Image:
    """A 0/255 mask of ``polygons`` (fractions of the picture) at ``width`` x ``height``."""
    mask = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        points = np.array([[x * (width - 1), y * (height - 1)] for x, y in polygon], np.int32)
        cv2.fillPoly(mask, [points], 255)
    return mask


@dataclass(frozen=True, slots=True)
class MotionChange:
    """``"start"`` or ``"end"`` of a motion episode."""

    kind: str
    time: datetime
    fraction: float  # share of the watched area that moved (start: at that frame)
    box: tuple[float, float, float, float] | None  # moving area, fractions (x, y, w, h)
    started: datetime


class MotionDetector:
    """Motion episodes of one camera.

    ``sensitivity`` maps to the share of the watched area that must move: 0.0 needs 5 %,
    1.0 needs 0.05 % (a few dozen pixels at 320 px wide).
    """

    def __init__(self, rules: CameraRules) -> None:
        self._rules = rules
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=100, varThreshold=16 + 48 * (1 - rules.sensitivity), detectShadows=False
        )
        self._threshold = 0.05 * (0.01**rules.sensitivity)
        self._area: Image | None = None
        self._frames = 0
        self._moving_since: datetime | None = None
        self._last_motion: datetime | None = None
        self.last_mask: Image | None = None

    def update(self, image: Image, time: datetime) -> MotionChange | None:
        """Feed one frame (BGR or grey); a change when an episode starts or ends."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = grey.shape[:2]
        scale = min(1.0, _WIDTH / width)
        size = (round(width * scale), round(height * scale))
        small = cv2.GaussianBlur(cv2.resize(grey, size), (5, 5), 0)
        if self._area is None or self._area.shape != small.shape:
            self._area = self._watched(size[0], size[1])
        moving = self._model.apply(small)
        self._frames += 1
        if self._frames <= _WARMUP_FRAMES:
            return None
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask: Image = np.asarray(cv2.bitwise_and(moving, self._area), dtype=np.uint8)
        self.last_mask = mask
        watched = max(1, int(np.count_nonzero(self._area)))
        fraction = np.count_nonzero(mask) / watched
        if fraction >= self._threshold:
            self._last_motion = time
            if self._moving_since is None:
                self._moving_since = time
                return MotionChange("start", time, fraction, _box(mask), time)
        elif (
            self._moving_since is not None
            and self._last_motion is not None
            and time - self._last_motion >= _END_AFTER
        ):
            started, self._moving_since = self._moving_since, None
            return MotionChange("end", time, fraction, None, started)
        return None

    @property
    def moving(self) -> bool:
        return self._moving_since is not None

    def _watched(self, width: int, height: int) -> Image:
        zones = self._rules.motion_zones
        area = (
            polygon_mask(zones, width, height) if zones else np.full((height, width), 255, np.uint8)
        )
        if self._rules.masks:
            area = cv2.bitwise_and(  # type: ignore[assignment]
                area, cv2.bitwise_not(polygon_mask(self._rules.masks, width, height))
            )
        return np.asarray(area, dtype=np.uint8)


def _box(mask: Image) -> tuple[float, float, float, float] | None:
    points = cv2.findNonZero(mask)
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    height, width = mask.shape[:2]
    return (x / width, y / height, w / width, h / height)
