"""ONVIF discovery scans: start one, poll its result; and what cameras announced."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import Field

from vms_core.api.bodies import Body, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import CAMERAS, DISCOVERY
from vms_core.api.params import path_int
from vms_core.api.registry import ID_PATH, ApiRegistry
from vms_core.cameras import CameraService
from vms_core.onvif.discovery import DISCOVERY_PORT, DiscoveryError

SCAN_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["running", "done", "failed"]},
        "request": {"type": "object"},
        "started": {"type": "string"},
        "finished": {"type": ["string", "null"]},
        "error": {"type": "string"},
        "devices": {"type": "array", "items": {"type": "object"}},
        "rejected": {"type": "array", "items": {"type": "string"}},
    },
}


class NewScan(Body):
    # Addresses or CIDR ranges probed by unicast (cameras multicast cannot reach).
    ranges: list[str] = Field(default_factory=list, max_length=64)
    multicast: bool = True
    timeout: float = Field(default=3.0, ge=0.2, le=30.0)
    port: int = Field(default=DISCOVERY_PORT, ge=1, le=65535)


async def start_scan(request: web.Request) -> web.Response:
    body = await read_json(request, NewScan)
    if not body.multicast and not body.ranges:
        raise ApiError(400, "nothing to scan: multicast is off and no ranges given")
    try:
        job = request.app[DISCOVERY].begin(
            ranges=body.ranges, multicast=body.multicast, timeout=body.timeout, port=body.port
        )
    except DiscoveryError as err:
        raise ApiError(400, str(err)) from None
    return web.json_response(job.to_json(), status=202)


async def get_scan(request: web.Request) -> web.Response:
    scan_id = path_int(request, what="scan")
    job = request.app[DISCOVERY].jobs.get(scan_id)
    if job is None:
        raise ApiError(404, f"no scan {scan_id}")
    data = job.to_json()
    await _mark_known(request.app[CAMERAS], data["devices"])
    return web.json_response(data)


async def announcements(request: web.Request) -> web.Response:
    devices = request.app[DISCOVERY].announced()
    await _mark_known(request.app[CAMERAS], devices)
    return web.json_response(devices)


def register(api: ApiRegistry) -> None:
    schema = api.schema("DiscoveryScan", SCAN_SCHEMA)

    api.route(
        "POST",
        "/api/discovery/scans",
        role="admin",
        summary="Start a WS-Discovery scan (multicast and/or unicast to ranges)",
        tag="discovery",
        request=schema_of(NewScan),
        response=schema,
        status=202,
    )(start_scan)

    api.route(
        "GET",
        "/api/discovery/scans/{id}",
        role="admin",
        summary="A scan's state and the cameras it found (with the catalog id if added)",
        tag="discovery",
        response=schema,
        params=(ID_PATH,),
    )(get_scan)

    api.route(
        "GET",
        "/api/discovery/announcements",
        role="admin",
        summary="Cameras that announced themselves (WS-Discovery Hello, no Bye yet)",
        tag="discovery",
        response={"type": "array", "items": {"type": "object"}},
    )(announcements)


async def _mark_known(cameras: CameraService, devices: list[dict[str, Any]]) -> None:
    """Add ``camera_id``: the catalog camera at the device's address, or None."""
    known = {_host_port(c.onvif_url): c.id for c in await cameras.visible() if c.onvif_url}
    for device in devices:
        device["camera_id"] = next(
            (known[k] for k in map(_host_port, device["xaddrs"]) if k in known), None
        )


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port)
