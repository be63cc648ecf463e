"""HTTP routes below ``/api/plugins/lpr/``. Handlers are plain functions: the host runs
them in a worker thread, so their SQLite look-ups never block the event loop."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from vms_sdk import BadRequest, HttpRequest, HttpResponse, NotFound, Route

from vms_plugin_lpr.models import Image
from vms_plugin_lpr.plates import PlateFormats, clean
from vms_plugin_lpr.store import StoredRead

if TYPE_CHECKING:
    from vms_plugin_lpr.service import LprPlugin

MAX_RESULTS = 1000
MAX_NAME_CHARS = 64  # hotlist names and read sources
MAX_REASON_CHARS = 500
# Reads older than this are not plausible pushes (a camera with a reset clock sends 1970).
EARLIEST_READ = datetime(2000, 1, 1, tzinfo=UTC)
# A camera's clock may run a little ahead of ours; a read further in the future is refused.
FUTURE_SLACK = timedelta(minutes=10)


def error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse.error(status, code, message)


def build_routes(service: Callable[[], LprPlugin]) -> list[Route]:
    """The plug-in's routes; ``service`` returns the running service.

    Who may do what: every logged-in user may search reads and look at hotlists, but
    sees only the reads of cameras granted to them (another camera's read answers 404,
    like one that does not exist); adding and removing hotlist entries needs an operator.
    """

    def reads(request: HttpRequest) -> HttpResponse:
        who = request.require_role("viewer")
        since = _time(request.query.get("since"), "since")
        until = _time(request.query.get("until"), "until")
        limit = _limit(request.query.get("limit", "100"))
        found = service().store.search(
            request.query.get("plate") or None,
            since,
            until,
            request.query.get("camera") or None,
            limit,
            cameras=who.camera_ids,
        )
        return HttpResponse(json={"reads": [read.as_json(match) for read, match in found]})

    def visible_read(request: HttpRequest) -> StoredRead:
        who = request.require_role("viewer")
        read = service().store.get(request.params["read_id"])
        if read is None or not who.can_see(read.camera):
            raise NotFound("no such read")
        return read

    def one_read(request: HttpRequest) -> HttpResponse:
        return HttpResponse(json=visible_read(request).as_json())

    def crop(request: HttpRequest) -> HttpResponse:
        svc = service()
        read = visible_read(request)
        if read.crop is None:
            raise NotFound("no crop for this read")
        path = (svc.crops / read.crop).resolve()
        if not path.is_relative_to(svc.crops.resolve()) or not path.is_file():
            raise NotFound("crop image is gone")
        return HttpResponse(body=path.read_bytes(), content_type="image/jpeg")

    def webhook(request: HttpRequest) -> HttpResponse:
        svc = service()
        secret = svc.settings.webhook_secret
        if not secret:
            return error(503, "webhook_disabled", "set plugins.lpr.webhook_secret to accept reads")
        if not _signed(secret, request):
            return error(401, "bad_signature", "X-Signature is not the HMAC-SHA256 of the body")
        pushed = _pushed_read(request.json(), service().formats)
        camera = pushed["camera"]
        if svc.ctx.get_camera(camera) is None:
            return error(404, "unknown_camera", f"no camera {camera!r}")
        read = svc.pushed_read(**pushed)
        return HttpResponse(201, json=read.as_json())

    def hotlists(request: HttpRequest) -> HttpResponse:
        entries = service().store.hotlist(request.query.get("list") or None)
        return HttpResponse(json={"entries": [e.as_json() for e in entries]})

    def add_hotlist(request: HttpRequest) -> HttpResponse:
        body = request.json()
        if not isinstance(body, dict) or "plate" not in body:
            raise BadRequest("body: need a JSON object {'plate', 'reason'}", code="bad_body")
        plate = clean(_text(body, "plate", MAX_NAME_CHARS))
        reason = _text(body, "reason", MAX_REASON_CHARS, default="")
        if not plate:
            raise BadRequest("plate: has no letters or digits", code="bad_body")
        name = request.params["list"]
        if len(name) > MAX_NAME_CHARS:
            raise BadRequest(f"list: at most {MAX_NAME_CHARS} characters", code="bad_body")
        entry = service().store.add_hotlist(name, plate, reason)
        return HttpResponse(201, json=entry.as_json())

    def remove_hotlist(request: HttpRequest) -> HttpResponse:
        removed = service().store.remove_hotlist(
            request.params["list"], clean(request.params["plate"])
        )
        if not removed:
            raise NotFound("no such hotlist entry")
        return HttpResponse(204, body=b"")

    def status(request: HttpRequest) -> HttpResponse:
        who = request.require_role("viewer")
        svc = service()
        cameras = svc.stats()
        return HttpResponse(
            json={
                "cameras": {c: cameras[c] for c in cameras if who.can_see(c)},
                "models_loaded_bytes": svc.models_loaded_bytes,
            }
        )

    return [
        Route("GET", "/reads", reads),
        Route("GET", "/reads/{read_id}", one_read),
        Route("GET", "/reads/{read_id}/crop", crop),
        # public: ANPR cameras cannot log in; the HMAC authenticates them instead.
        Route("POST", "/webhook", webhook, public=True),
        Route("GET", "/hotlists", hotlists),
        Route("POST", "/hotlists/{list}", add_hotlist, role="operator"),
        Route("DELETE", "/hotlists/{list}/{plate}", remove_hotlist, role="operator"),
        Route("GET", "/status", status),
    ]


def _time(value: object, key: str) -> datetime | None:
    """An ISO 8601 time with a zone, as UTC; ``None`` when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected an ISO 8601 time with a zone", code="bad_query")
    shown = value[:40]
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{key}: not an ISO 8601 time: {shown!r}", code="bad_query") from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{key}: {shown!r} needs a timezone (e.g. Z)", code="bad_query")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise BadRequest(f"{key}: {shown!r} is out of range", code="bad_query") from None


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        shown = raw[:20]
        raise BadRequest(f"limit: expected an integer, got {shown!r}", code="bad_query") from None
    if not 1 <= limit <= MAX_RESULTS:
        raise BadRequest(f"limit: must be 1..{MAX_RESULTS}", code="bad_query")
    return limit


def _text(body: dict[str, Any], key: str, max_chars: int, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected a string", code="bad_body")
    if len(value) > max_chars:
        raise BadRequest(f"{key}: at most {max_chars} characters", code="bad_body")
    return value


def _signed(secret: str, request: HttpRequest) -> bool:
    given = (request.header("x-signature") or "").removeprefix("sha256=").lower()
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is anyone's.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def _pushed_read(body: Any, formats: PlateFormats) -> dict[str, Any]:
    """The keyword arguments of ``LprService.pushed_read`` for a webhook body.

    :raises BadRequest: naming the first field that is missing or wrong.
    """
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", code="bad_body")
    for key in ("plate", "camera"):
        if not isinstance(body.get(key), str | int) or isinstance(body.get(key), bool):
            raise BadRequest(f"{key}: required, a string", code="bad_body")
    camera = _text({"camera": str(body["camera"])}, "camera", MAX_NAME_CHARS)
    plate = clean(_text({"plate": str(body["plate"])}, "plate", MAX_NAME_CHARS))
    # A pushed read is taken as it is (no look-alike repair): its sender read it.
    if formats.fit(plate, repair=False) is None:
        raise BadRequest(
            f"plate: {body['plate']!r} fits none of the plate formats", code="bad_body"
        )
    confidence = body.get("confidence", 1.0)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise BadRequest("confidence: a number from 0 to 1", code="bad_body")
    if not 0.0 <= confidence <= 1.0:  # also refuses NaN
        raise BadRequest("confidence: must be 0..1", code="bad_body")
    now = datetime.now(UTC)
    when = _time(body.get("time"), "time") or now
    if not EARLIEST_READ <= when <= now + FUTURE_SLACK:
        raise BadRequest(
            f"time: {when.isoformat()} is not between {EARLIEST_READ.date()} and now",
            code="bad_body",
        )
    source = _text(body, "source", MAX_NAME_CHARS, default="webhook") or "webhook"
    crop = _image(body.get("image"))
    return {
        "plate": plate,
        "camera": camera,
        "time": when,
        "confidence": float(confidence),
        "crop": crop,
        "source": source,
    }


def _image(value: Any) -> Image | None:
    """The decoded picture of a base64 JPEG or PNG, or ``None`` when there is none."""
    if not value:
        return None
    if not isinstance(value, str):
        raise BadRequest("image: expected base64 text", code="bad_body")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise BadRequest(f"image: not base64: {exc}", code="bad_body") from None
    try:
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        decoded = None
    if decoded is None:
        raise BadRequest("image: not a JPEG or PNG picture", code="bad_body")
    return np.asarray(decoded, dtype=np.uint8)
