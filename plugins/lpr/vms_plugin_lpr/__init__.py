"""vms-plugin-lpr: licence-plate recognition for vms.

Reads plates from sampled camera frames (offline OCR on the CPU), accepts reads pushed
by ANPR cameras on a signed webhook, keeps them in its own SQLite database with a fuzzy
search, and publishes ``lpr.read`` and ``lpr.hotlist_hit`` events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vms_sdk import (
    API_VERSION,
    Frame,
    FrameSubscription,
    PluginContext,
    PluginInfo,
    Route,
    hookimpl,
)

from vms_plugin_lpr.routes import build_routes
from vms_plugin_lpr.service import LprService
from vms_plugin_lpr.settings import LprSettings

__version__ = "0.1.0"

_service: LprService | None = None


def service() -> LprService:
    """The running service (between ``vms_startup`` and ``vms_shutdown``)."""
    if _service is None:
        raise RuntimeError("lpr plug-in is not started")
    return _service


@hookimpl
def vms_plugin_info() -> PluginInfo:
    return PluginInfo(
        "lpr",
        __version__,
        API_VERSION,
        "Licence-plate recognition and search",
        # Reads plates from frames and a signed webhook, publishes reads and hotlist hits,
        # tells channels of hits.
        requests=("frames", "events", "notify", "public_routes"),
    )


@hookimpl
def vms_configure(config: Mapping[str, Any]) -> None:
    LprSettings.parse(config)


@hookimpl
def vms_startup(ctx: PluginContext) -> None:
    global _service
    _service = LprService(ctx, LprSettings.parse(ctx.config))


@hookimpl
def vms_shutdown(ctx: PluginContext) -> None:
    global _service
    if _service is not None:
        _service.close()
        _service = None


@hookimpl
def vms_routes(ctx: PluginContext) -> list[Route]:
    return build_routes(service)


@hookimpl
def vms_frame_subscriptions(ctx: PluginContext) -> list[FrameSubscription]:
    s = service().settings
    if s.stream == "main":
        return [FrameSubscription(s.cameras, s.fps, "main", "bgr24")]
    return [FrameSubscription(s.cameras, s.fps, "sub", "bgr24")]


@hookimpl
def vms_analyze_frame(ctx: PluginContext, frame: Frame) -> None:
    # A plain function: the host runs it in the plug-in's worker thread, so OCR never
    # blocks the event loop.
    service().analyze(frame)
