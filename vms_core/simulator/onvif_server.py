"""The HTTP side of one simulated camera: ONVIF SOAP endpoints and the JPEG snapshot URL.

Each camera has its own port, as real cameras do; the device entry point is
``/onvif/device_service``. URLs handed out are built from the request's Host header
(or the configured advertised address), so clients reach us however they came.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from vms_core.simulator import device_service, events_service, media_service, ptz_service
from vms_core.simulator.config import CameraConfig
from vms_core.simulator.context import (
    DEVICE_PATH,
    EVENTS_PATH,
    MEDIA_PATH,
    PROFILE_TOKENS,
    PTZ_PATH,
    CallContext,
    Handler,
    subscription_path,
)
from vms_core.simulator.http_auth import HttpAuthenticator
from vms_core.simulator.ptz import PtzState
from vms_core.simulator.snapshot import SnapshotRenderer
from vms_core.simulator.soap import (
    NS,
    SoapFault,
    action_not_supported,
    envelope,
    not_authorized,
    parse_request,
)
from vms_core.simulator.wsse import find_username_token, verify

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "application/soap+xml"
MAX_REQUEST_BYTES = 256 * 1024
# Operations a camera answers without credentials (clients need the clock to build tokens).
UNAUTHENTICATED = frozenset({(NS["tds"], "GetSystemDateAndTime")})
HANDLERS: dict[str, dict[str, Handler]] = {
    NS["tds"]: device_service.HANDLERS,
    NS["trt"]: media_service.HANDLERS,
    NS["tptz"]: ptz_service.HANDLERS,
    NS["tev"]: events_service.EVENT_HANDLERS,
    NS["wsnt"]: events_service.NOTIFICATION_HANDLERS,
}


class LoginRequired(Exception):
    """A request without WS-Security credentials to a camera that answers none of those."""


def bracket_host(host: str) -> str:
    """IPv6 literals go in brackets inside URLs."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class OnvifCameraServer:
    """Serves one camera. ``rtsp_port`` is asked at each request (the RTSP server may
    start after us)."""

    def __init__(
        self,
        camera: CameraConfig,
        host: str,
        port: int,
        rtsp_port: Callable[[], int],
        ptz: PtzState | None = None,
        advertise_host: str | None = None,
    ) -> None:
        self.camera = camera
        self.host = host
        self.requested_port = port
        self.ptz = ptz
        self.advertise_host = advertise_host
        self._rtsp_port = rtsp_port
        self._snapshot_auth = HttpAuthenticator(
            realm=camera.name,
            username=camera.username,
            password=camera.password,
            reject_all=camera.reject_password,
        )
        self._snapshots = SnapshotRenderer(camera)
        self.events = events_service.EventBroker(camera)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def device_url(self) -> str:
        return f"http://{bracket_host(self.advertise_host or self.host)}:{self.port}{DEVICE_PATH}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        for path in (DEVICE_PATH, MEDIA_PATH, PTZ_PATH, EVENTS_PATH):
            app.router.add_post(path, self._handle_soap)
        app.router.add_post(subscription_path("{subscription_id}"), self._handle_soap)
        app.router.add_get("/onvif/snapshot/{profile}.jpg", self._handle_snapshot)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _base_url(self, request: web.Request) -> tuple[str, str]:
        """("http://host:port", "host") as the client should use them."""
        if self.advertise_host:
            host = bracket_host(self.advertise_host)
            return f"http://{host}:{self.port}", host
        host_header = request.host or f"{bracket_host(self.host)}:{self.port}"
        try:
            media_host = URL(f"http://{host_header}").host or self.host
        except ValueError:
            media_host = self.host
        return f"http://{host_header}", bracket_host(media_host)

    async def _handle_soap(self, request: web.Request) -> web.Response:
        try:
            body = await self._dispatch(request)
        except LoginRequired:
            # Such cameras answer with their web server's page, not a SOAP fault.
            return web.Response(
                status=401,
                text="<html><body><h1>401 Unauthorized</h1></body></html>",
                content_type="text/html",
                headers={"WWW-Authenticate": self._snapshot_auth.challenge()},
            )
        except SoapFault as fault:
            log.debug("%s: fault %s %s", self.camera.name, fault.subcodes, fault.reason)
            return web.Response(
                status=fault.status, text=fault.to_xml(), content_type=SOAP_CONTENT_TYPE
            )
        return web.Response(text=body, content_type=SOAP_CONTENT_TYPE)

    async def _dispatch(self, request: web.Request) -> str:
        soap_request = parse_request(await request.read())
        namespace, name = soap_request.namespace, soap_request.name
        handler = HANDLERS.get(namespace, {}).get(name)
        if handler is None or (namespace == NS["tptz"] and self.ptz is None):
            raise action_not_supported(name)
        base_url, media_host = self._base_url(request)
        context = CallContext(
            camera=self.camera,
            ptz=self.ptz,
            request=soap_request,
            base_url=base_url,
            media_host=media_host,
            rtsp_port=self._rtsp_port(),
            events=self.events,
            subscription_id=request.match_info.get("subscription_id"),
        )
        token = find_username_token(soap_request.header)
        if token is None and self.camera.clock_needs_login:
            raise LoginRequired
        if (namespace, name) not in UNAUTHENTICATED:
            allowed = not self.camera.reject_password and verify(
                token, self.camera.username, self.camera.password, context.camera_now()
            )
            if not allowed:
                raise not_authorized()
        body = handler(context)
        return envelope(body if isinstance(body, str) else await body)

    async def _handle_snapshot(self, request: web.Request) -> web.Response:
        profile = request.match_info["profile"]
        if profile not in PROFILE_TOKENS:
            raise web.HTTPNotFound()
        if self.camera.snapshot_fails:
            return web.Response(status=503, text="snapshot unavailable")
        if not self._snapshot_auth.check(request.method, request.headers.get("Authorization")):
            return web.Response(
                status=401,
                text="Unauthorized",
                headers={"WWW-Authenticate": self._snapshot_auth.challenge()},
            )
        # Rendering and JPEG encoding block: keep them off the event loop.
        view = self.ptz.position() if self.ptz is not None else None
        jpeg = await asyncio.to_thread(self._snapshots.jpeg, profile, None, view)
        return web.Response(body=jpeg, content_type="image/jpeg")
