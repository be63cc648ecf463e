"""Reading plates out of one camera's frames, OCR only where a plate is.

Per frame, cheapest first:

1. **Motion** (:class:`MotionGate`): a MOG2 background model on a 320-pixel copy finds the
   regions where something moves. A still frame costs about 2 ms and nothing else runs;
   text lying on still parts of the picture (a burned-in camera name, a street sign) is
   never considered.
2. **Plate regions**: RapidOCR's text detector runs on each moving region only, scaled so
   the region's longer side is ``detect_width`` pixels (a vehicle's plate stays readable
   for the detector at that size; small regions are enlarged up to ``max_upscale``).
3. **Tracking** (:mod:`vms_plugin_lpr.tracking`): each plate box continues a track; a track
   whose reads already agree is followed without being read again.
4. **Recognition** on a perspective-corrected crop of the full-resolution frame, for the
   tracks that still need reading only; the text must fit one of the plate formats.

Measured on rendered 720p passes (``bench/lpr.py``): the detector on a 1280x720 frame cost
about 190 ms, on a moving region at 320 pixels 8-10 ms; a recognition about 12 ms a crop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from vms_plugin_lpr.models import Image, OcrModels, Quad
from vms_plugin_lpr.plates import PlateFormats, clean
from vms_plugin_lpr.tracking import PlateTracker, quad_height, quad_width

_MOTION_WIDTH = 320  # the motion model runs on a small copy: cheap, and enough to gate on
_WARMUP_FRAMES = 2  # MOG2 calls everything foreground until it has seen a few frames
_MIN_TEXT_PX = 8  # plate characters need about 8 pixels to be read at all
_MOVING_SHARE = 0.3  # of a text box's pixels that must be moving


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    """One plate text found in one frame (fitted to a plate format)."""

    text: str
    score: float
    quad: Quad
    crop: Image


@dataclass(slots=True)
class StageCosts:
    """What reading one camera cost, by stage (CPU seconds of the reading thread)."""

    frames: int = 0  # frames looked at
    moving_frames: int = 0  # frames with motion: the detector ran
    detections: int = 0  # detector runs (one per moving region)
    recognitions: int = 0  # crops recognised
    motion_s: float = 0.0
    detect_s: float = 0.0
    recognise_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        return self.motion_s + self.detect_s + self.recognise_s

    def as_json(self) -> dict[str, float]:
        def ms(total: float, count: int) -> float:
            return round(1000 * total / count, 1) if count else 0.0

        return {
            "frames": self.frames,
            "moving_frames": self.moving_frames,
            "detections": self.detections,
            "recognitions": self.recognitions,
            "cpu_s": round(self.cpu_s, 3),
            "motion_ms_per_frame": ms(self.motion_s, self.frames),
            "detect_ms_per_region": ms(self.detect_s, self.detections),
            "recognise_ms_per_crop": ms(self.recognise_s, self.recognitions),
        }


@dataclass(frozen=True, slots=True)
class Motion:
    """Where a frame moves: the foreground mask (motion scale) and regions (frame pixels)."""

    mask: Image
    scale: float  # mask pixels per frame pixel
    regions: list[tuple[int, int, int, int]]  # x0, y0, x1, y1

    def covers(self, quad: Quad) -> bool:
        """Whether most of ``quad``'s bounding box is moving."""
        x0, y0 = np.floor(quad.min(axis=0) * self.scale).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0) * self.scale).astype(int)
        patch = self.mask[max(0, y0) : max(0, y1) + 1, max(0, x0) : max(0, x1) + 1]
        return bool(patch.size and np.count_nonzero(patch) >= _MOVING_SHARE * patch.size)


class MotionGate:
    """A MOG2 background model for one camera: is anything moving, and where."""

    def __init__(self, min_fraction: float) -> None:
        self._model = cv2.createBackgroundSubtractorMOG2(
            history=50, varThreshold=25, detectShadows=False
        )
        self._min_fraction = min_fraction
        self._frames = 0

    def update(self, frame: Image) -> Motion | None:
        """Feed ``frame``; where it moves, or ``None`` when too little moved."""
        height, width = frame.shape[:2]
        scale = min(1.0, _MOTION_WIDTH / width)
        small = cv2.resize(
            frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
        mask = self._model.apply(small)
        self._frames += 1
        if self._frames <= _WARMUP_FRAMES:
            return None
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        least = self._min_fraction * mask.size
        if np.count_nonzero(mask) < max(1.0, least):
            return None
        mask = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = []
        for x, y, w, h, area in stats[1:count]:
            if area < least:
                continue
            pad = 0.1 * max(w, h) / scale + 16  # frame pixels around the moving blob
            boxes.append(
                (
                    max(0, int((x / scale) - pad)),
                    max(0, int((y / scale) - pad)),
                    min(width, int((x + w) / scale + pad)),
                    min(height, int((y + h) / scale + pad)),
                )
            )
        if not boxes:
            return None
        return Motion(np.asarray(mask, dtype=np.uint8), scale, merge_overlapping(boxes))


def merge_overlapping(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes that overlap joined into their union (so no pixel is searched twice)."""
    pending = list(boxes)
    merged: list[tuple[int, int, int, int]] = []
    while pending:
        x0, y0, x1, y1 = pending.pop()
        grown = True
        while grown:
            grown = False
            for other in list(pending):
                a0, b0, a1, b1 = other
                if a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:
                    x0, y0, x1, y1 = min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1)
                    pending.remove(other)
                    grown = True
        merged.append((x0, y0, x1, y1))
    return merged


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """How a camera's frames are read (from the plug-in's settings)."""

    min_score: float = 0.8
    motion_min_fraction: float = 0.002
    detect_width: int = 320
    max_upscale: float = 2.0
    reads_per_plate: int = 3  # agreeing reads after which a tracked plate is not read again


class PlateReader:
    """Reads the plates of one camera's frames, in time order (not thread-safe: one
    frame of a camera at a time)."""

    def __init__(self, models: OcrModels, formats: PlateFormats, settings: ReaderSettings) -> None:
        self._models = models
        self._formats = formats
        self._settings = settings
        self._gate = MotionGate(settings.motion_min_fraction)
        self._tracker: PlateTracker | None = None
        self.costs = StageCosts()

    def read(self, frame: Image, at: float) -> list[PlateCandidate]:
        """Plates in ``frame`` (BGR) taken at ``at`` (seconds)."""
        costs = self.costs
        costs.frames += 1
        started = time.thread_time()
        motion = self._gate.update(frame)
        costs.motion_s += time.thread_time() - started
        if motion is None:
            return []
        costs.moving_frames += 1
        started = time.thread_time()
        quads = self._plate_boxes(frame, motion)
        costs.detect_s += time.thread_time() - started
        if self._tracker is None:
            self._tracker = PlateTracker(
                frame.shape[1], enough=self._settings.reads_per_plate, give_up=6
            )
        tracker = self._tracker
        tracks = tracker.update(quads, at)
        found = []
        wanted = []
        for quad, track in zip(quads, tracks, strict=True):
            if tracker.static(track):
                continue  # scenery, not a vehicle: neither read nor a sighting
            agreed = tracker.agreed(track)
            if agreed is not None:
                # Followed, not read again: still a sighting (the read's last-seen time
                # and best crop move on while the vehicle is in view).
                score = track.best_scores[agreed]
                found.append(PlateCandidate(agreed, score, quad, perspective_crop(frame, quad)))
            elif tracker.wants_reading(track):
                wanted.append((quad, track))
        if not wanted:
            return found
        started = time.thread_time()
        crops = [perspective_crop(frame, quad) for quad, _ in wanted]
        results = self._models.recognise(crops)
        costs.recognise_s += time.thread_time() - started
        costs.recognitions += len(crops)
        for (quad, track), crop, (raw, score) in zip(wanted, crops, results, strict=True):
            fitted = self._formats.fit(clean(raw)) if score >= self._settings.min_score else None
            tracker.note(track, fitted.plate if fitted is not None else None, score)
            if fitted is not None:
                found.append(PlateCandidate(fitted.plate, score, quad, crop))
        return found

    def _plate_boxes(self, frame: Image, motion: Motion) -> list[Quad]:
        quads: list[Quad] = []
        s = self._settings
        for x0, y0, x1, y1 in motion.regions:
            scale = min(s.max_upscale, s.detect_width / max(x1 - x0, y1 - y0))
            self.costs.detections += 1
            offset = np.array([x0, y0], dtype=np.float32)
            for quad in self._models.detect(frame[y0:y1, x0:x1], scale):
                placed = quad + offset
                if quad_height(placed) >= _MIN_TEXT_PX and motion.covers(placed):
                    quads.append(placed)
        return merge_line_boxes(quads)


def merge_line_boxes(quads: list[Quad]) -> list[Quad]:
    """Join boxes that sit on one text line with small gaps (a plate the detector split
    at its space or a dash) into one box around all of them."""
    pending = sorted(quads, key=lambda q: float(q[:, 0].min()))
    merged: list[Quad] = []
    while pending:
        group = [pending.pop(0)]
        changed = True
        while changed:
            changed = False
            for other in list(pending):
                if any(_same_line(member, other) for member in group):
                    group.append(other)
                    pending.remove(other)
                    changed = True
        merged.append(group[0] if len(group) == 1 else _enclosing(group))
    return merged


def _same_line(a: Quad, b: Quad) -> bool:
    height = max(quad_height(a), quad_height(b))
    centre_a, centre_b = a.mean(axis=0), b.mean(axis=0)
    if abs(float(centre_a[1] - centre_b[1])) > 0.5 * height:
        return False
    if min(quad_height(a), quad_height(b)) < 0.6 * height:
        return False
    left, right = (a, b) if centre_a[0] <= centre_b[0] else (b, a)
    gap = float(right[:, 0].min() - left[:, 0].max())
    return gap < 1.2 * height


def _enclosing(group: list[Quad]) -> Quad:
    points = np.concatenate(group).astype(np.float32)
    corners = cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32)
    return order_corners(corners)


def order_corners(points: Quad) -> Quad:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    by_sum = points.sum(axis=1)
    by_diff = np.diff(points, axis=1).ravel()
    return np.array(
        [
            points[np.argmin(by_sum)],
            points[np.argmin(by_diff)],
            points[np.argmax(by_sum)],
            points[np.argmax(by_diff)],
        ],
        dtype=np.float32,
    )


def perspective_crop(frame: Image, quad: Quad) -> Image:
    """The quadrilateral ``quad`` of ``frame`` warped flat, text running left to right."""
    width = max(1, round(quad_width(quad)))
    height = max(1, round(quad_height(quad)))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(order_corners(quad), target)
    crop = cv2.warpPerspective(
        frame, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(crop, dtype=np.uint8)
