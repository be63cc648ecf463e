"""The plug-in object: frames in, reads stored, events out."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from vms_sdk import (
    API_VERSION,
    Event,
    Frame,
    FrameSubscription,
    Notification,
    PluginInfo,
    Route,
    Severity,
    hookimpl,
)
from vms_sdk.plugin import Plugin

from vms_plugin_lpr.engine import PlateCandidate, PlateReader, ReaderSettings
from vms_plugin_lpr.models import Image, OcrModels, shared_models
from vms_plugin_lpr.plates import PlateFormats, fold
from vms_plugin_lpr.routes import build_routes
from vms_plugin_lpr.settings import LprSettings, read_hotlist_csv
from vms_plugin_lpr.store import ReadStore, StoredRead
from vms_plugin_lpr.votes import CameraVotes, Decision


@dataclass(slots=True)
class CameraState:
    """Per-camera state; its lock keeps two frames of one camera from racing (the host
    sends a camera's frames one after the other; this holds whatever calls it)."""

    reader: PlateReader
    votes: CameraVotes
    lock: threading.Lock = field(default_factory=threading.Lock)
    skipped: int = 0  # frames the host skipped for us (Frame.skipped)


VERSION = "0.2.0"


class LprPlugin(Plugin[LprSettings]):
    """The plug-in object: its hooks, the read store and each camera's votes."""

    info = PluginInfo(
        "lpr",
        VERSION,
        API_VERSION,
        "Licence-plate recognition and search",
        # Reads plates from frames and a signed webhook, publishes reads and hotlist hits,
        # tells channels of hits.
        requests=("frames", "events", "notify", "public_routes"),
    )
    settings_type = LprSettings
    store: ReadStore  # from start()
    crops: Path

    def __init__(self) -> None:
        super().__init__()
        self._cameras: dict[str, CameraState] = {}
        self._pushed: dict[str, CameraVotes] = {}
        self._lock = threading.Lock()
        self._models: OcrModels | None = None
        self._formats: PlateFormats | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._open)  # SQLite and the hotlist files: off the loop

    def _open(self) -> None:
        self.store = ReadStore(self.ctx.data_dir / "lpr.sqlite3")
        self.crops = self.ctx.data_dir / "crops"
        for name, path in (self.settings.hotlists or {}).items():
            self.store.replace_list_from_csv(name, read_hotlist_csv(Path(path)))

    async def stop(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        self.store.close()

    @hookimpl
    def vms_routes(self) -> list[Route]:
        return build_routes(lambda: self)

    @hookimpl
    def vms_frame_subscriptions(self) -> list[FrameSubscription]:
        s = self.settings
        return [FrameSubscription(s.cameras, s.fps, s.stream, "bgr24", concurrency=s.worker_count)]

    @hookimpl
    def vms_analyze_frame(self, frame: Frame) -> None:
        # A plain function: the host runs it in the plug-in's worker thread, so OCR never
        # blocks the event loop.
        self.analyze(frame)

    @property
    def models(self) -> OcrModels:
        """The OCR models, loaded on first use, once for every camera and worker."""
        with self._lock:
            if self._models is None:
                self._models = shared_models(self.settings.ocr_threads)
            return self._models

    @property
    def models_loaded_bytes(self) -> int | None:
        """What loading the OCR models added to the runner's peak memory (``None``:
        not loaded yet, they load with the first frame)."""
        with self._lock:
            return self._models.loaded_bytes if self._models is not None else None

    @property
    def formats(self) -> PlateFormats:
        with self._lock:
            if self._formats is None:
                self._formats = self.settings.formats()
            return self._formats

    # ----------------------------------------------------------------- frames

    def analyze(self, frame: Frame) -> None:
        """One sampled frame of one camera (runs in a worker thread)."""
        state = self._camera(frame.camera_id)
        with state.lock:
            state.skipped += frame.skipped
            candidates = state.reader.read(_bgr(frame.image), frame.time.timestamp())
            for decision in state.votes.add(frame.time, candidates):
                self._apply(decision, frame.camera_id, "camera", state.votes)

    def stats(self) -> dict[str, dict[str, float]]:
        """Per camera: frames read and skipped by the host, and what each stage cost
        (motion, plate detection, recognition)."""
        return {
            camera: {**s.reader.costs.as_json(), "skipped": s.skipped}
            for camera, s in sorted(self._cameras.items())
        }

    def _camera(self, camera_id: str) -> CameraState:
        models, formats = self.models, self.formats
        with self._lock:
            state = self._cameras.get(camera_id)
            if state is None:
                s = self.settings
                reader = ReaderSettings(
                    min_score=s.min_score,
                    motion_min_fraction=s.motion_min_fraction,
                    detect_width=s.detect_width,
                )
                state = CameraState(PlateReader(models, formats, reader), self._votes())
                self._cameras[camera_id] = state
            return state

    def _votes(self, min_agree: int | None = None) -> CameraVotes:
        s = self.settings
        return CameraVotes(
            s.min_agree if min_agree is None else min_agree,
            timedelta(seconds=s.vote_window_s),
            timedelta(seconds=s.merge_window_s),
        )

    # ----------------------------------------------------------------- reads from elsewhere

    def pushed_read(
        self,
        plate: str,
        camera: str,
        time: datetime,
        confidence: float,
        crop: Image | None,
        source: str,
    ) -> StoredRead:
        """A read an ANPR camera or external LPR system pushed: already decided, so it
        needs no vote, but repeats are merged like our own."""
        with self._lock:
            votes = self._pushed.setdefault(camera, self._votes(min_agree=1))
        empty = np.zeros((1, 1, 3), np.uint8)
        quad = np.zeros((4, 2), np.float32)
        candidate = PlateCandidate(plate, confidence, quad, crop if crop is not None else empty)
        (decision,) = votes.add(time, [candidate])
        uid = self._apply(decision, camera, source, votes, has_crop=crop is not None)
        stored = self.store.get(uid)
        assert stored is not None
        return stored

    # ----------------------------------------------------------------- decisions

    def _apply(
        self,
        decision: Decision,
        camera: str,
        source: str,
        votes: CameraVotes,
        has_crop: bool = True,
    ) -> str:
        if not decision.new and decision.read_id is not None:
            # Keep one crop per read: the best-scored sighting's.
            stored = self.store.get(decision.read_id)
            better = stored is not None and decision.confidence > stored.confidence
            crop = self._save_crop(decision.best.candidate.crop) if has_crop and better else None
            replaced = self.store.extend_read(
                decision.read_id, decision.best.time, decision.confidence, crop
            )
            if replaced:
                (self.crops / replaced).unlink(missing_ok=True)
            return decision.read_id
        crop = self._save_crop(decision.best.candidate.crop) if has_crop else None
        read = self.store.add_read(
            decision.text, camera, decision.first_seen, decision.confidence, source, crop
        )
        votes.opened(fold(decision.text), read.uid, decision.best.time)
        self._publish_read(read)
        return read.uid

    def _publish_read(self, read: StoredRead) -> None:
        crop_url = f"{self.ctx.public_url}reads/{read.uid}/crop" if read.crop else None
        data = {
            "plate": read.plate,
            "confidence": round(read.confidence, 3),
            "read_id": read.uid,
            "source": read.source,
            "crop_url": crop_url,
        }
        self.ctx.submit(
            self.ctx.publish_event(Event("lpr.read", read.first_seen, (read.camera,), data=data))
        )
        for entry in self.store.hotlist_hits(read.plate):
            hit = {
                **data,
                "list": entry.list,
                "listed_plate": entry.plate,
                "reason": entry.reason,
                "match": "exact" if entry.plate == read.plate else "fuzzy",
            }
            event = Event(
                "lpr.hotlist_hit", read.first_seen, (read.camera,), severity=Severity.HIGH, data=hit
            )
            self.ctx.submit(self._announce_hit(event, read))

    async def _announce_hit(self, event: Event, read: StoredRead) -> None:
        """Publish the hit (rules route it on), then notify ``notify_channels`` directly
        with the plate in the message and the crop as its picture."""
        stored = await self.ctx.publish_event(event)
        channels = self.settings.notify_channels
        if not channels:
            return
        camera = self.ctx.get_camera(read.camera)
        where = camera.name if camera is not None else f"camera {read.camera}"
        data = stored.data
        reason = f": {data['reason']}" if data.get("reason") else ""
        snapshot = None
        if read.crop is not None:
            path = self.crops / read.crop
            snapshot = await asyncio.to_thread(path.read_bytes) if path.is_file() else None
        for channel in channels:
            await self.ctx.notify(
                Notification(
                    channel,
                    f"Hotlist hit: {read.plate} ({data['list']})",
                    f"{read.plate} on {where} at {read.first_seen:%Y-%m-%d %H:%M:%S} UTC, "
                    f"listed as {data['listed_plate']}{reason} "
                    f"({data['match']} match, confidence {read.confidence:.2f})",
                    Severity.HIGH,
                    stored,
                    (read.camera,),
                    snapshot,
                )
            )

    def _save_crop(self, crop: Image) -> str | None:
        if crop.size <= 3:
            return None
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return None
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        relative = f"{day}/{uuid.uuid4().hex}.jpg"
        path = self.crops / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg.tobytes())
        return relative


def _bgr(image: Image) -> Image:
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return image
