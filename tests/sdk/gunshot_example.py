"""A small plug-in used by the SDK tests: what a gunshot-detection integrator writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from vms_sdk import (
    ConfigError,
    Event,
    Frame,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    PluginContext,
    PluginInfo,
    Route,
    Severity,
    hookimpl,
)


@hookimpl
def vms_plugin_info() -> PluginInfo:
    return PluginInfo("gunshot", "0.1.0", "1.0", "Bookmarks cameras near gunshots")


@hookimpl
def vms_configure(config: Mapping[str, Any]) -> None:
    radius = config.get("radius_m", 150)
    if not isinstance(radius, int | float) or radius <= 0:
        raise ConfigError("radius_m", "must be a positive number of metres")


@hookimpl
async def vms_on_event(ctx: PluginContext, event: Event) -> None:
    if event.type != "gunshot.detected" or event.lat is None or event.lon is None:
        return
    near = ctx.cameras_near(event.lat, event.lon, float(ctx.config.get("radius_m", 150)))
    if not near:
        return
    ids = [n.camera.id for n in near]
    await ctx.bookmark(ids, event.time - timedelta(seconds=30), event.time, "gunshot", lock=True)
    await ctx.ptz_goto_preset(ids[0], "street")
    ctx.kv.set("handled", int(ctx.kv.get("handled", 0)) + 1)


@hookimpl
def vms_routes(ctx: PluginContext) -> Iterable[Route]:
    async def alert(request: HttpRequest) -> HttpResponse:
        body = request.json()
        event = await ctx.publish_event(
            Event("gunshot.detected", lat=body["lat"], lon=body["lon"], severity=Severity.HIGH)
        )
        return HttpResponse(201, json={"id": event.id})

    def stats(request: HttpRequest) -> HttpResponse:
        return HttpResponse(json={"handled": ctx.kv.get("handled", 0), "who": request.params})

    return [Route("POST", "/alerts", alert, public=True), Route("GET", "/stats/{who}", stats)]


@hookimpl
def vms_frame_subscriptions() -> list[FrameSubscription]:
    return [FrameSubscription(camera_ids=("c1",), fps=2, fmt="gray")]


@hookimpl
def vms_analyze_frame(ctx: PluginContext, frame: Frame) -> None:
    # Sync hook: runs in a worker thread, so reach the loop through ctx.submit.
    if float(frame.image.mean()) > 200:
        flash = Event("flash.detected", time=frame.time, camera_ids=(frame.camera_id,))
        ctx.submit(ctx.publish_event(flash)).result(timeout=2)
