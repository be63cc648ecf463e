"""Live view over WebRTC: WHEP (an SDP offer in, an SDP answer and a session URL out)."""

from __future__ import annotations

from aiohttp import web

from vms_core.api.app import server_of
from vms_core.api.auth import principal, remote
from vms_core.api.errors import ApiError
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry, Param
from vms_core.webrtc import WhepError

MAX_OFFER_BYTES = 64 * 1024
STREAMS = ("main", "sub")


def register(api: ApiRegistry) -> None:
    @api.route(
        "POST",
        "/api/cameras/{id}/whep",
        summary=(
            "Start live view (WHEP): body is the SDP offer (application/sdp); answers 201 "
            "with the SDP answer and Location, the session to DELETE. X-Vms-Stream says "
            "which stream is served, X-Vms-Note why it is not the one asked for. A stream "
            "no browser can play (H.265, B-frames) answers 422 with a message to show."
        ),
        tag="live",
        status=201,
        response={"type": "string"},
        content_type="application/sdp",
        params=(ID_PATH, Param("stream", schema={"type": "string", "enum": list(STREAMS)})),
        request={"type": "string", "maxLength": MAX_OFFER_BYTES},
        request_type="application/sdp",
        errors=(422, 503),
    )
    async def whep_offer(request: web.Request) -> web.Response:
        camera_id = path_int(request, what="camera")
        who = principal(request)
        server = server_of(request)
        if await server.cameras.get(camera_id, who) is None:
            raise ApiError(404, f"no camera {camera_id}")
        stream = request.query.get("stream", "main")
        if stream not in STREAMS:
            raise ApiError(400, f"query parameter stream: expected main or sub, got {stream!r}")
        if request.content_type not in ("application/sdp", "text/plain"):
            raise ApiError(415, "send the SDP offer as application/sdp")
        if (request.content_length or 0) > MAX_OFFER_BYTES:
            raise ApiError(413, "SDP offer too large")
        offer = await request.text()
        try:
            answer = await server.webrtc.open(
                camera_id, stream, offer, who.username, remote(request)
            )
        except WhepError as exc:
            raise ApiError(exc.status, str(exc), exc.code) from None
        headers = {
            "Location": f"/api/cameras/{camera_id}/whep/{answer.session_id}",
            "X-Vms-Stream": answer.stream,
        }
        if answer.note:
            headers["X-Vms-Note"] = answer.note
        return web.Response(
            text=answer.sdp, status=201, content_type="application/sdp", headers=headers
        )

    @api.route(
        "DELETE",
        "/api/cameras/{id}/whep/{session}",
        summary="End a live view session",
        tag="live",
        status=204,
        params=(ID_PATH,),
    )
    async def whep_end(request: web.Request) -> web.Response:
        camera_id = path_int(request, what="camera")
        who = principal(request)
        server = server_of(request)
        session = server.webrtc.sessions.get(request.match_info["session"])
        mine = session is not None and (session.username == who.username or who.role == "admin")
        if session is None or session.camera_id != camera_id or not mine:
            raise ApiError(404, "no such live view session")
        await server.webrtc.close(session.id, f"ended by {who.username}")
        return web.Response(status=204)
