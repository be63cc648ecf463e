"""The running plug-in: frames in, motion and intrusion events out, CPU accounted."""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vms_sdk import (
    API_VERSION,
    Detection,
    Event,
    Frame,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    PluginInfo,
    Route,
    Severity,
    hookimpl,
)
from vms_sdk.plugin import Plugin

from vms_plugin_analytics.motion import MotionChange, MotionDetector
from vms_plugin_analytics.people import Intrusion, PeopleDetector, PeopleRules
from vms_plugin_analytics.settings import AnalyticsSettings, CameraRules

VERSION = "0.2.0"

_CPU_WINDOW = timedelta(seconds=60)


@dataclass(slots=True)
class CameraState:
    rules: CameraRules
    motion: MotionDetector
    people: PeopleRules
    lock: threading.Lock = field(default_factory=threading.Lock)
    frames: int = 0
    person_checks: int = 0
    cpu_s: float = 0.0
    last_person_check: datetime | None = None
    first_frame: datetime | None = None
    last_frame: datetime | None = None
    recent_cpu: list[tuple[datetime, float]] = field(default_factory=list)

    def health(self) -> dict[str, float | int | bool]:
        """CPU per camera: total, and the share of one core over the last minute of frames."""
        span = 0.0
        if self.recent_cpu and self.last_frame is not None:
            span = (self.last_frame - self.recent_cpu[0][0]).total_seconds()
        recent = sum(cpu for _, cpu in self.recent_cpu)
        return {
            "frames": self.frames,
            "person_checks": self.person_checks,
            "cpu_s": round(self.cpu_s, 3),
            "cpu_percent": round(100 * recent / span, 1) if span > 0 else 0.0,
            "moving": self.motion.moving,
        }


class AnalyticsPlugin(Plugin[AnalyticsSettings]):
    """The plug-in object: its hooks, and each camera's detectors between frames."""

    info = PluginInfo(
        "analytics",
        VERSION,
        API_VERSION,
        "Motion, people, restricted zones",
        requests=("frames", "events"),
    )
    settings_type = AnalyticsSettings

    def __init__(self) -> None:
        super().__init__()
        self._people = PeopleDetector()
        self._cameras: dict[str, CameraState] = {}
        self._lock = threading.Lock()

    @hookimpl
    def vms_frame_subscriptions(self) -> list[FrameSubscription]:
        s = self.settings
        cameras = None if s.all_cameras else tuple(s.cameras)
        return [FrameSubscription(cameras, s.fps, s.stream, "bgr24")]

    @hookimpl
    def vms_analyze_frame(self, frame: Frame) -> None:
        # Plain function: runs in the plug-in's worker thread, never on the event loop.
        self.analyze(frame)

    @hookimpl
    def vms_routes(self) -> list[Route]:
        return [Route("GET", "/health", self._health_route)]

    def _health_route(self, request: HttpRequest) -> HttpResponse:
        who = request.require_role("viewer")
        cameras = self.health()
        return HttpResponse(json={"cameras": {c: cameras[c] for c in cameras if who.can_see(c)}})

    def analyze(self, frame: Frame) -> None:
        state = self._camera(frame.camera_id)
        if state is None:
            return
        with state.lock:
            started = _time.thread_time()
            events = self._analyze(state, frame)
            cpu = _time.thread_time() - started
            state.frames += 1
            state.cpu_s += cpu
            state.first_frame = state.first_frame or frame.time
            state.last_frame = frame.time
            state.recent_cpu.append((frame.time, cpu))
            while state.recent_cpu and frame.time - state.recent_cpu[0][0] > _CPU_WINDOW:
                state.recent_cpu.pop(0)
        for event in events:
            self.ctx.submit(self.ctx.publish_event(event))

    def health(self) -> dict[str, dict[str, float | int | bool]]:
        with self._lock:
            cameras = dict(self._cameras)
        return {camera: state.health() for camera, state in sorted(cameras.items())}

    def _analyze(self, state: CameraState, frame: Frame) -> list[Event]:
        events: list[Event] = []
        change = state.motion.update(frame.image, frame.time)
        if change is not None and state.rules.motion:
            events.append(_motion_event(change, frame.camera_id))
        if state.rules.wants_people and self._person_check_due(state, frame.time):
            state.last_person_check = frame.time
            state.person_checks += 1
            people = self._people.detect(frame.image)
            for intrusion in state.people.update(people, frame.time):
                events.append(_intrusion_event(intrusion, frame.camera_id))
        return events

    def _person_check_due(self, state: CameraState, time: datetime) -> bool:
        # HOG costs ~60 ms a frame: run it while something moves, and now and then
        # regardless (someone standing still in a zone).
        if state.motion.moving:
            return True
        last = state.last_person_check
        return last is None or time - last >= timedelta(seconds=self.settings.person_every_s)

    def _camera(self, camera_id: str) -> CameraState | None:
        with self._lock:
            state = self._cameras.get(camera_id)
            if state is None:
                rules = self.settings.rules(camera_id)
                if rules is None:
                    return None
                cooldown = timedelta(seconds=self.settings.cooldown_s)
                state = CameraState(rules, MotionDetector(rules), PeopleRules(rules, cooldown))
                self._cameras[camera_id] = state
            return state


def _motion_event(change: MotionChange, camera_id: str) -> Event:
    data: dict[str, object] = {"fraction": round(change.fraction, 4)}
    detections: tuple[Detection, ...] = ()
    if change.kind == "end":
        data["started"] = change.started.isoformat()
        data["duration_s"] = round((change.time - change.started).total_seconds(), 2)
    elif change.box is not None:
        detections = (Detection("motion", min(1.0, change.fraction * 10), change.box),)
    time = change.started if change.kind == "start" else change.time
    return Event(f"motion.{change.kind}", time, (camera_id,), data=data, detections=detections)


def _intrusion_event(intrusion: Intrusion, camera_id: str) -> Event:
    return Event(
        "analytics.intrusion",
        intrusion.time,
        (camera_id,),
        severity=Severity.MEDIUM,
        data={"rule": intrusion.rule, "name": intrusion.name, "track": intrusion.track},
        detections=(Detection("person", 1.0, intrusion.box),),
    )
