"""The aiohttp application factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from vms_core.api.auth import auth_middleware
from vms_core.api.cors import CorsPolicy, cors_middleware
from vms_core.api.errors import error_middleware
from vms_core.api.keys import (
    ALARMS,
    CAMERAS,
    EVENT_BUS,
    EVENT_DENSITY,
    EVENT_SEARCH,
    EXPORTS,
    VIEWS,
)
from vms_core.api.registry import mount
from vms_core.web import add_web_routes

if TYPE_CHECKING:
    from vms_core.server import VmsServer

SERVER: web.AppKey[VmsServer] = web.AppKey("vms.server")


def create_app(server: VmsServer) -> web.Application:
    from vms_core.api.routes import register_all
    from vms_core.api.routes.webrtc import CROSS_ORIGIN_PATHS

    settings = server.settings.server
    cors = CorsPolicy(settings.cors_origins, CROSS_ORIGIN_PATHS, settings.public_url)
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[cors_middleware(cors), error_middleware, auth_middleware(server)],
    )
    app[SERVER] = server
    app[CAMERAS] = server.cameras
    app[EVENT_DENSITY] = server.event_density
    app[VIEWS] = server.views
    app[ALARMS] = server.alarms
    app[EVENT_BUS] = server.events
    app[EVENT_SEARCH] = server.event_search
    app[EXPORTS] = server.exports
    register_all(server.api)
    mount(server.api, app)
    add_web_routes(app)
    return app


def server_of(request: web.Request) -> VmsServer:
    return request.app[SERVER]
