"""vms-plugin-analytics: motion and people analytics for vms.

Motion per camera (zones, masks, sensitivity) gives ``motion.start``/``motion.end``
events; OpenCV's HOG people detector with restricted-zone and line-crossing rules gives
``analytics.intrusion`` events. Runs on sub streams at a low rate by default; CPU per
camera is at ``GET /api/plugins/analytics/health``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vms_sdk import (
    API_VERSION,
    Frame,
    FrameSubscription,
    HttpRequest,
    HttpResponse,
    PluginContext,
    PluginInfo,
    Route,
    hookimpl,
)

from vms_plugin_analytics.service import AnalyticsService
from vms_plugin_analytics.settings import AnalyticsSettings

__version__ = "0.1.0"

_service: AnalyticsService | None = None


def service() -> AnalyticsService:
    if _service is None:
        raise RuntimeError("analytics plug-in is not started")
    return _service


@hookimpl
def vms_plugin_info() -> PluginInfo:
    return PluginInfo(
        "analytics",
        __version__,
        API_VERSION,
        "Motion, people, restricted zones",
        requests=("frames", "events"),
    )


@hookimpl
def vms_configure(config: Mapping[str, Any]) -> None:
    AnalyticsSettings.parse(config)


@hookimpl
def vms_startup(ctx: PluginContext) -> None:
    global _service
    _service = AnalyticsService(ctx, AnalyticsSettings.parse(ctx.config))


@hookimpl
def vms_shutdown(ctx: PluginContext) -> None:
    global _service
    _service = None


@hookimpl
def vms_frame_subscriptions(ctx: PluginContext) -> list[FrameSubscription]:
    s = service().settings
    cameras = None if s.all_cameras else tuple(s.cameras)
    if s.stream == "main":
        return [FrameSubscription(cameras, s.fps, "main", "bgr24")]
    return [FrameSubscription(cameras, s.fps, "sub", "bgr24")]


@hookimpl
def vms_analyze_frame(ctx: PluginContext, frame: Frame) -> None:
    # Plain function: runs in the plug-in's worker thread, never on the event loop.
    service().analyze(frame)


@hookimpl
def vms_routes(ctx: PluginContext) -> list[Route]:
    def health(request: HttpRequest) -> HttpResponse:
        who = request.require_role("viewer")
        cameras = service().health()
        return HttpResponse(json={"cameras": {c: cameras[c] for c in cameras if who.can_see(c)}})

    return [Route("GET", "/health", health)]
