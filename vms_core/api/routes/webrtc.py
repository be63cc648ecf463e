"""Live view over WebRTC: WHEP (an SDP offer in, an SDP answer and a session URL out)."""

from __future__ import annotations

import logging

from aiohttp import web

from vms_core.api.auth import principal, remote
from vms_core.api.errors import ApiError, client_gone, error_response
from vms_core.api.keys import CAMERAS, LIVE_VIEW
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry, Handler, Param
from vms_core.webrtc.errors import WhepError
from vms_core.webrtc.whep import MAX_OFFER_BYTES, Viewer, decode_offer

log = logging.getLogger(__name__)

STREAMS = ("main", "sub")
OFFER_PATH = "/api/cameras/{id}/whep"
SESSION_PATH = "/api/cameras/{id}/whep/{session}"
# Third-party WHEP players on the origins in [server] cors_origins may use these.
CROSS_ORIGIN_PATHS = frozenset({OFFER_PATH, SESSION_PATH})


async def whep_offer(request: web.Request) -> web.StreamResponse:
    camera_id = path_int(request, what="camera")
    who = principal(request)
    if await request.app[CAMERAS].get(camera_id, who) is None:
        raise ApiError(404, f"no camera {camera_id}")
    stream = request.query.get("stream", "main")
    if stream not in STREAMS:
        raise ApiError(400, f"query parameter stream: expected main or sub, got {stream!r}")
    viewer = Viewer(who.user_id, who.username, remote(request))
    try:
        offer = decode_offer(await _read_offer(request), request.charset)
        answer = await request.app[LIVE_VIEW].open(camera_id, stream, offer, viewer)
    except WhepError as exc:
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc.status, str(exc), exc.code, headers=retry)
    if client_gone(request):
        # The viewer hung up while we negotiated (a tile closed mid-connect): nobody
        # will use or DELETE this session, so it must not hold a slot until its
        # connect deadline.
        await request.app[LIVE_VIEW].close(answer.session_id, "viewer left before the answer")
        log.info("live view for camera %s: viewer left before the answer", camera_id)
        return error_response(400, "the client closed the connection", "client_gone")
    headers = {
        "Location": f"/api/cameras/{camera_id}/whep/{answer.session_id}",
        "X-Vms-Stream": answer.stream,
    }
    if answer.note:
        headers["X-Vms-Note"] = answer.note
    return web.Response(
        text=answer.sdp, status=201, content_type="application/sdp", headers=headers
    )


async def whep_end(request: web.Request) -> web.Response:
    camera_id = path_int(request, what="camera")
    who = principal(request)
    session_id = request.match_info["session"]
    live_view = request.app[LIVE_VIEW]
    owner, camera = live_view.owner(session_id) or (None, None)
    mine = owner is not None and (owner == who.user_id or who.role == "admin")
    if not mine or camera != camera_id:
        raise ApiError(404, "no such live view session")
    if live_view.is_live(session_id):
        await live_view.close(session_id, f"ended by {who.username}")
    return web.Response(status=204)


def register(api: ApiRegistry) -> None:
    api.route(
        "POST",
        OFFER_PATH,
        summary=(
            "Start live view (WHEP): body is the SDP offer (application/sdp, UTF-8, at most "
            "64 KiB); answers 201 with the SDP answer and Location, the session to DELETE. "
            "X-Vms-Stream says which stream is served, X-Vms-Note why it is not the one "
            "asked for. A bad offer is refused before the camera is opened."
        ),
        tag="live",
        status=201,
        response={"type": "string"},
        content_type="application/sdp",
        params=(ID_PATH, Param("stream", schema={"type": "string", "enum": list(STREAMS)})),
        request={"type": "string", "maxLength": MAX_OFFER_BYTES},
        request_type="application/sdp",
        errors=(
            (400, "The offer is not usable (the message names the problem), or a bad stream"),
            (403, "Needs role viewer; or cross-origin, not allowed; or access revoked"),
            (413, "The offer is larger than 64 KiB"),
            (415, "The body is not application/sdp in UTF-8"),
            (422, "No browser can play this stream (H.265, B-frames): a message to show"),
            (429, "The user has [webrtc] max_sessions_per_user live views; Retry-After"),
            (503, "Camera not streaming, or the server at [webrtc] max_sessions; Retry-After"),
        ),
    )(whep_offer)

    api.route(
        "DELETE",
        SESSION_PATH,
        summary=(
            "End a live view session. A session that already ended (its peer connection "
            "closed first) answers 204 too, to its owner."
        ),
        tag="live",
        status=204,
        params=(ID_PATH,),
    )(whep_end)

    for path, methods in ((OFFER_PATH, "OPTIONS, POST"), (SESSION_PATH, "DELETE, OPTIONS")):
        api.route(
            "OPTIONS",
            path,
            summary=(
                "CORS preflight for WHEP players on the origins in [server] cors_origins "
                "(any other origin gets 403); without Origin it lists the methods (Allow)."
            ),
            tag="live",
            role=None,
            status=204,
            errors=((403, "The Origin is not in [server] cors_origins"),),
        )(_options(methods))


def _options(methods: str) -> Handler:
    async def preflight(request: web.Request) -> web.Response:
        # Origins are checked and the CORS headers added by the CORS middleware.
        return web.Response(status=204, headers={"Allow": methods})

    return preflight


async def _read_offer(request: web.Request) -> bytes:
    """The request body, refused early when it is not an SDP offer or is too large."""
    if request.content_type not in ("application/sdp", "text/plain"):
        raise WhepError(415, "send the SDP offer as application/sdp")
    if (request.content_length or 0) > MAX_OFFER_BYTES:
        raise WhepError(413, f"SDP offer too large: at most {MAX_OFFER_BYTES} bytes")
    body = bytearray()
    # Read no more than the limit (a chunked body has no Content-Length to check first).
    while chunk := await request.content.read(MAX_OFFER_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise WhepError(413, f"SDP offer too large: at most {MAX_OFFER_BYTES} bytes")
    return bytes(body)
