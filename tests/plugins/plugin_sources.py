"""Source code of the plug-ins the manager tests write into plug-in folders."""

GOOD = """
    from vms_sdk import (BadRequest, DeliveryResult, FrameSubscription, HttpResponse, NotFound,
                         PluginInfo, Route, hookimpl)

    CHANGED = []

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("good", "1.2.3", "1.0", "behaves")

    @hookimpl
    def vms_startup(ctx):
        ctx.kv.set("starts", ctx.kv.get("starts", 0) + 1)

    @hookimpl
    async def vms_on_event(ctx, event):
        ctx.kv.set("seen", ctx.kv.get("seen", []) + [event.type])

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps=10, fmt="gray")]

    @hookimpl
    def vms_analyze_frame(ctx, frame):
        ctx.kv.set("frames", ctx.kv.get("frames", []) + [frame.time.isoformat()])

    @hookimpl
    def vms_notify(notification):
        if notification.channel == "chat":
            return DeliveryResult("chat", True, "sent")
        return None

    @hookimpl
    def vms_routes(ctx):
        def hello(request):
            return HttpResponse(json={"hello": request.params["who"], "q": dict(request.query)})

        async def echo(request):
            return HttpResponse(201, json=request.json(), headers={"X-Plugin": ctx.name})

        def boom(request):
            raise RuntimeError("route bug")

        async def slow(request):
            import asyncio
            await asyncio.sleep(60)

        def hook(request):
            return HttpResponse(body=request.body[::-1], content_type="application/octet-stream")

        def whoami(request):
            who = request.principal
            cams = None if who.camera_ids is None else sorted(who.camera_ids)
            return HttpResponse(json={"user": who.username, "role": who.role, "cameras": cams})

        def camera(request):
            if not request.principal.can_see(request.params["id"]):
                raise NotFound(f"no camera {request.params['id']}")
            return HttpResponse(json={"camera": request.params["id"]})

        def settings(request):
            CHANGED.append(request.principal.username)
            return HttpResponse(json={"changed": len(CHANGED)})

        def picky(request):
            raise BadRequest("limit: must be 1..10", code="bad_query")

        return [Route("GET", "/hello/{who}", hello), Route("POST", "/echo", echo),
                Route("GET", "/boom", boom), Route("GET", "/slow", slow),
                Route("POST", "/hook", hook, public=True), Route("GET", "/whoami", whoami),
                Route("GET", "/cameras/{id}", camera), Route("GET", "/picky", picky),
                Route("PUT", "/settings", settings, role="admin")]
"""

RAISER = """
    from vms_sdk import FrameSubscription, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("raiser", "0.1", "1.0")

    @hookimpl
    def vms_on_event(event):
        raise RuntimeError("on_event bug")

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps=10, fmt="gray")]

    @hookimpl
    def vms_analyze_frame(frame):
        raise RuntimeError("analyze bug")

    @hookimpl
    def vms_notify(notification):
        raise RuntimeError("notify bug")

    @hookimpl
    def vms_on_segment_closed(segment):
        raise RuntimeError("segment bug")
"""

SLEEPER = """
    import asyncio
    from vms_sdk import FrameSubscription, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("sleeper", "0.1", "1.0")

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps=10, fmt="gray")]

    @hookimpl
    async def vms_analyze_frame(frame):
        await asyncio.sleep(3600)

    @hookimpl
    async def vms_on_event(event):
        await asyncio.Event().wait()  # never set: hangs until cancelled
"""

BLOCKER = """
    import time
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("blocker", "0.1", "1.0")

    @hookimpl
    def vms_on_event(event):
        time.sleep(5)
"""

FUTURE_API = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("future", "9.0", "2.0")
"""

STRICT_CONFIG = """
    from vms_sdk import ConfigError, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("strict", "0.1", "1.0")

    @hookimpl
    def vms_configure(config):
        if not str(config.get("api_key", "")).startswith("k-"):
            raise ConfigError("api_key", "must start with 'k-'")
"""

NO_INFO = """
    from vms_sdk import hookimpl

    @hookimpl
    def vms_on_event(event):
        pass
"""

TYPO = """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("typo", "0.1", "1.0")

    @hookimpl
    def vms_on_evnt(event):
        pass
"""

EXPLODES_ON_IMPORT = """
    raise SystemExit("this plug-in must never be imported when disabled")
"""

LISTENER = """
    import numpy as np
    from vms_sdk import AudioSubscription, PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("listener", "0.1", "1.0")

    @hookimpl
    def vms_audio_subscriptions():
        return [AudioSubscription(camera_ids=["c1"], sample_rate=8000, chunk_seconds=0.5)]

    @hookimpl
    def vms_analyze_audio(ctx, chunk):
        peak = float(np.abs(chunk.samples).max())
        ctx.kv.set("loudest", ctx.kv.get("loudest", []) + [[chunk.camera_id, round(peak, 2)]])
        if peak > 0.9:
            ev = ctx.submit(ctx.publish_event(
                __import__("vms_sdk").Event("gunshot.detected", camera_ids=[chunk.camera_id])))
            ev.result(timeout=2)
"""

# Holds a resource in a slow synchronous frame analysis that vms_shutdown releases, as the
# LPR plug-in does with its plate database.
SLOW_ANALYST = """
    import sqlite3
    import threading
    import time

    from vms_sdk import FrameSubscription, PluginInfo, hookimpl

    HOLD_S = 0.4
    DB = sqlite3.connect(":memory:", check_same_thread=False)
    LOCK = threading.Lock()

    def note(ctx, what):
        with LOCK:
            ctx.kv.set("order", ctx.kv.get("order", []) + [what])

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("slow_analyst", "1.0", "1.0", "a slow frame analysis")

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps=10, fmt="gray")]

    @hookimpl
    def vms_analyze_frame(ctx, frame):
        note(ctx, "analyze started")
        time.sleep(HOLD_S)
        DB.execute("select 1")  # ProgrammingError once vms_shutdown closed it
        note(ctx, "analyze finished")

    @hookimpl
    def vms_shutdown(ctx):
        note(ctx, "shutdown")
        DB.close()
"""
