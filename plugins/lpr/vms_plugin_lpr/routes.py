"""HTTP routes below ``/api/plugins/lpr/``. Handlers are plain functions: the host runs
them in a worker thread, so their SQLite look-ups never block the event loop."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from vms_sdk import HttpRequest, HttpResponse, Route

from vms_plugin_lpr.plates import clean, plausible
from vms_plugin_lpr.service import LprService

MAX_RESULTS = 1000


def error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(status, json={"error": {"code": code, "message": message}})


def build_routes(service: Callable[[], LprService]) -> list[Route]:
    """The plug-in's routes; ``service`` returns the running service."""

    def reads(request: HttpRequest) -> HttpResponse:
        try:
            since = _time(request.query.get("since"))
            until = _time(request.query.get("until"))
            limit = int(request.query.get("limit", "100"))
        except ValueError as exc:
            return error(400, "bad_query", str(exc))
        if not 1 <= limit <= MAX_RESULTS:
            return error(400, "bad_query", f"limit must be 1..{MAX_RESULTS}")
        found = service().store.search(
            request.query.get("plate") or None,
            since,
            until,
            request.query.get("camera") or None,
            limit,
        )
        return HttpResponse(json={"reads": [read.as_json(match) for read, match in found]})

    def one_read(request: HttpRequest) -> HttpResponse:
        read = service().store.get(request.params["read_id"])
        if read is None:
            return error(404, "not_found", "no such read")
        return HttpResponse(json=read.as_json())

    def crop(request: HttpRequest) -> HttpResponse:
        svc = service()
        read = svc.store.get(request.params["read_id"])
        if read is None or read.crop is None:
            return error(404, "not_found", "no crop for this read")
        path = (svc.crops / read.crop).resolve()
        if not path.is_relative_to(svc.crops.resolve()) or not path.is_file():
            return error(404, "not_found", "crop image is gone")
        return HttpResponse(body=path.read_bytes(), content_type="image/jpeg")

    def webhook(request: HttpRequest) -> HttpResponse:
        svc = service()
        secret = svc.settings.webhook_secret
        if not secret:
            return error(503, "webhook_disabled", "set plugins.lpr.webhook_secret to accept reads")
        if not _signed(secret, request):
            return error(401, "bad_signature", "X-Signature is not the HMAC-SHA256 of the body")
        try:
            body = request.json()
            pushed = _pushed_read(body)
        except (ValueError, KeyError, TypeError) as exc:
            return error(400, "bad_body", str(exc))
        camera = pushed["camera"]
        if svc.ctx.get_camera(camera) is None:
            return error(404, "unknown_camera", f"no camera {camera!r}")
        read = svc.pushed_read(**pushed, source=str(body.get("source") or "webhook"))
        return HttpResponse(201, json=read.as_json())

    def hotlists(request: HttpRequest) -> HttpResponse:
        entries = service().store.hotlist(request.query.get("list") or None)
        return HttpResponse(json={"entries": [e.as_json() for e in entries]})

    def add_hotlist(request: HttpRequest) -> HttpResponse:
        try:
            body = request.json() or {}
            plate = clean(str(body["plate"]))
            reason = str(body.get("reason", ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return error(400, "bad_body", f"need {{'plate', 'reason'}}: {exc}")
        if not plate:
            return error(400, "bad_body", "plate has no letters or digits")
        entry = service().store.add_hotlist(request.params["list"], plate, reason)
        return HttpResponse(201, json=entry.as_json())

    def remove_hotlist(request: HttpRequest) -> HttpResponse:
        removed = service().store.remove_hotlist(
            request.params["list"], clean(request.params["plate"])
        )
        if not removed:
            return error(404, "not_found", "no such hotlist entry")
        return HttpResponse(204, body=b"")

    def status(request: HttpRequest) -> HttpResponse:
        return HttpResponse(json={"cameras": service().stats()})

    return [
        Route("GET", "/reads", reads),
        Route("GET", "/reads/{read_id}", one_read),
        Route("GET", "/reads/{read_id}/crop", crop),
        # public: ANPR cameras cannot log in; the HMAC authenticates them instead.
        Route("POST", "/webhook", webhook, public=True),
        Route("GET", "/hotlists", hotlists),
        Route("POST", "/hotlists/{list}", add_hotlist),
        Route("DELETE", "/hotlists/{list}/{plate}", remove_hotlist),
        Route("GET", "/status", status),
    ]


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} needs a timezone (e.g. Z)")
    return parsed.astimezone(UTC)


def _signed(secret: str, request: HttpRequest) -> bool:
    given = (request.header("x-signature") or "").removeprefix("sha256=")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def _pushed_read(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    plate = clean(str(body["plate"]))
    if not plausible(plate):
        raise ValueError(f"{body['plate']!r} is not a plausible plate")
    confidence = float(body.get("confidence", 1.0))
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence must be 0..1")
    when = _time(body.get("time")) or datetime.now(UTC)
    crop = None
    if body.get("image"):
        try:
            raw = base64.b64decode(str(body["image"]), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"image is not base64: {exc}") from exc
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("image is not a JPEG or PNG picture")
        crop = np.asarray(decoded, dtype=np.uint8)
    return {
        "plate": plate,
        "camera": str(body["camera"]),
        "time": when,
        "confidence": confidence,
        "crop": crop,
    }
