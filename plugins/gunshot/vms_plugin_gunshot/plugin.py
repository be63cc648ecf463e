"""``GunshotPlugin``: the plug-in object; its hooks and its state between calls.

The host makes one instance per runner (the entry point names the class). Webhook
requests and incident work run on the event loop; audio analysis runs in worker threads
(at most two at once), so the per-camera detectors sit behind a lock and hand incidents
to the loop with ``ctx.submit``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from vms_sdk import (
    API_VERSION,
    AudioChunk,
    AudioSubscription,
    HttpRequest,
    HttpResponse,
    PluginInfo,
    Route,
    hookimpl,
)
from vms_sdk.plugin import Plugin

from vms_plugin_gunshot.detector import TransientDetector
from vms_plugin_gunshot.incident import (
    Incident,
    IncidentReport,
    camera_summary,
    follow_up,
    open_incident,
)
from vms_plugin_gunshot.settings import GunshotSettings
from vms_plugin_gunshot.webhook import Refused, parse_alert, verify

ALERTS_KEY = "alerts"  # kv: alert id -> {"event": id, "at": unix seconds}
SIGNATURES_KEY = "signatures"  # kv: used signature -> unix seconds it may be forgotten
ALERT_MEMORY_S = 7 * 24 * 3600  # an alert id re-sent within a week is the same incident
MAX_ALERTS_REMEMBERED = 5000
AUDIO_RATE = 16000
VERSION = "0.2.0"
# An incident: its event, locked evidence on nearby cameras, PTZ presets turned to it,
# notifications; alerts arrive on a public (signed) webhook and from microphones.
REQUESTS = ("events", "bookmarks", "evidence_locks", "ptz", "notify", "audio", "public_routes")


class GunshotPlugin(Plugin[GunshotSettings]):
    info = PluginInfo(
        "gunshot",
        VERSION,
        API_VERSION,
        "Gunshot alerts: detection webhook and microphones",
        requests=REQUESTS,
    )
    settings_type = GunshotSettings

    def __init__(self) -> None:
        super().__init__()
        self.refused: Counter[str] = Counter()
        self.incidents = 0
        self.audio_hits = 0
        self._in_flight: dict[str, asyncio.Future[Incident]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._detectors: dict[str, TransientDetector] = {}
        self._audio_last: dict[str, tuple[float, str]] = {}  # camera -> (time, incident key)
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- hooks

    async def start(self) -> None:
        if self.settings.secret is None:
            self.ctx.logger.warning("no secret set: the alert webhook refuses every request")

    @hookimpl
    def vms_routes(self) -> list[Route]:
        # public: the detection system cannot log in; the HMAC signature authenticates it.
        return [
            Route("POST", "/alerts", self.handle_alert, public=True),
            # Refused webhook calls are security information: operators and admins only.
            Route("GET", "/status", self.status, role="operator"),
        ]

    @hookimpl
    def vms_audio_subscriptions(self) -> list[AudioSubscription]:
        if not self.settings.audio_detection:
            return []
        return [AudioSubscription(self.settings.audio_cameras, AUDIO_RATE, chunk_seconds=0.5)]

    @hookimpl
    def vms_analyze_audio(self, chunk: AudioChunk) -> None:
        self.analyze_audio(chunk)

    # ----------------------------------------------------------------- webhook

    async def handle_alert(self, request: HttpRequest) -> HttpResponse:
        """``POST /alerts``: verify, parse, then open the incident once."""
        if self.settings.secret is None:
            return _error(503, "not_configured", "set plugins.gunshot.secret to use the webhook")
        now = time.time()
        try:
            signature = verify(
                self.settings.secret,
                request.headers,
                request.body,
                now,
                self.settings.replay_window_s,
            )
            if self._signature_used(signature, now):
                raise Refused(409, "replayed", "this signed request was already received")
            alert = parse_alert(request.body, now, self.settings.replay_window_s)
        except Refused as refusal:
            self.refused[refusal.code] += 1
            self.ctx.logger.warning(
                "refused alert from %s: %s (%s)",
                request.header("x-forwarded-for", "?"),
                refusal.message,
                refusal.code,
            )
            return _error(refusal.status, refusal.code, refusal.message)
        self._remember_signature(signature, now)
        key = f"alert:{alert.id}"
        known = self.ctx.kv.get(ALERTS_KEY, {}).get(alert.id)
        if known is not None:
            return HttpResponse(200, json={"incident": known["event"], "duplicate": True})
        report = IncidentReport(
            key=key,
            time=alert.time,
            lat=alert.lat,
            lon=alert.lon,
            rounds=alert.rounds,
            confidence=alert.confidence,
            source="webhook",
            address=alert.address,
            alert_id=alert.id,
        )
        incident, fresh = await self.incident_once(report)
        if fresh:
            self._remember_alert(alert.id, incident.event.id, now)
        return HttpResponse(
            201 if fresh else 200,
            json={
                "incident": incident.event.id,
                "duplicate": not fresh,
                "cameras": [camera_summary(n) for n in incident.cameras],
                "bookmarked": incident.bookmarked,
            },
        )

    def status(self, request: HttpRequest) -> HttpResponse:
        """``GET /status``: counters an operator checks when alerts seem missing."""
        return HttpResponse(
            json={
                "webhook": self.settings.secret is not None,
                "incidents": self.incidents,
                "audio_hits": self.audio_hits,
                "refused": dict(self.refused),
                "url": self.ctx.public_url + "alerts",
            }
        )

    # ----------------------------------------------------------------- incidents

    async def incident_once(self, report: IncidentReport) -> tuple[Incident, bool]:
        """Open the incident for ``report.key`` unless one is open or opening already.

        Two identical alerts racing each other share one incident: the second waits for
        the first's result instead of making its own.
        """
        pending = self._in_flight.get(report.key)
        if pending is not None:
            return await asyncio.shield(pending), False
        future: asyncio.Future[Incident] = asyncio.get_running_loop().create_future()
        self._in_flight[report.key] = future
        try:
            incident = await open_incident(self.ctx, self.settings, report)
        except BaseException as exc:
            del self._in_flight[report.key]
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        future.set_result(incident)
        del self._in_flight[report.key]  # from here on the caller's memory answers repeats
        self.incidents += 1
        task = asyncio.create_task(follow_up(self.ctx, self.settings, incident))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return incident, True

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----------------------------------------------------------------- audio

    def analyze_audio(self, chunk: AudioChunk) -> None:
        """Worker thread: run the camera's detector; open an incident per burst of shots."""
        settings = self.settings
        with self._lock:
            detector = self._detectors.get(chunk.camera_id)
            if detector is None or detector.sample_rate != chunk.sample_rate:
                detector = TransientDetector(chunk.sample_rate, settings.detector)
                self._detectors[chunk.camera_id] = detector
            hits = detector.process(chunk.samples)
            if not hits:
                return
            self.audio_hits += len(hits)
            first = chunk.time + timedelta(seconds=hits[0].offset_s)
            last_time, last_key = self._audio_last.get(chunk.camera_id, (-1e18, ""))
            if first.timestamp() - last_time < settings.audio_merge_s:
                # Later rounds of the same burst: already reported.
                self._audio_last[chunk.camera_id] = (first.timestamp(), last_key)
                return
            key = f"audio:{chunk.camera_id}:{first.isoformat()}"
            self._audio_last[chunk.camera_id] = (first.timestamp(), key)
        camera = self.ctx.get_camera(chunk.camera_id)
        report = IncidentReport(
            key=key,
            time=first,
            lat=camera.lat if camera else None,
            lon=camera.lon if camera else None,
            rounds=len(hits),
            confidence=max(h.confidence for h in hits),
            source="audio",
            heard_by=chunk.camera_id,
        )
        self.ctx.logger.info("gunshot heard on camera %s at %s", chunk.camera_id, first)
        done = self.ctx.submit(self.incident_once(report))
        done.add_done_callback(self._log_failure)

    def _log_failure(self, future: concurrent.futures.Future[tuple[Incident, bool]]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.ctx.logger.error("opening an audio incident failed: %r", future.exception())

    # ----------------------------------------------------------------- memory

    def _signature_used(self, signature: str, now: float) -> bool:
        used: dict[str, float] = self.ctx.kv.get(SIGNATURES_KEY, {})
        return used.get(signature, 0.0) > now

    def _remember_signature(self, signature: str, now: float) -> None:
        used: dict[str, float] = self.ctx.kv.get(SIGNATURES_KEY, {})
        # Signatures older than twice the window can never pass the timestamp check again.
        forget_at = now + 2 * self.settings.replay_window_s
        kept = {s: t for s, t in used.items() if t > now}
        kept[signature] = forget_at
        self.ctx.kv.set(SIGNATURES_KEY, kept)

    def _remember_alert(self, alert_id: str, event_id: str, now: float) -> None:
        alerts: dict[str, dict[str, Any]] = self.ctx.kv.get(ALERTS_KEY, {})
        kept = {a: v for a, v in alerts.items() if now - float(v["at"]) < ALERT_MEMORY_S}
        if len(kept) >= MAX_ALERTS_REMEMBERED:
            oldest = sorted(kept, key=lambda a: float(kept[a]["at"]))
            for gone in oldest[: len(kept) - MAX_ALERTS_REMEMBERED + 1]:
                del kept[gone]
        kept[alert_id] = {"event": event_id, "at": now}
        self.ctx.kv.set(ALERTS_KEY, kept)


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(status, json={"error": {"code": code, "message": message}})
