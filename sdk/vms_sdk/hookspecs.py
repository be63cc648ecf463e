"""The hooks a plug-in may implement.

Implement a hook by writing a method of your plug-in object (see :mod:`vms_sdk.plugin`)
or a module-level function of the same name, decorated with ``@vms_sdk.hookimpl``. Take
only the arguments you need: pluggy passes arguments by name. Any hook may be a plain
function or an ``async def``: plain functions run in a worker thread of the plug-in's own
(at most two at once), coroutines on the event loop of the plug-in's runner process (so
never block inside ``async def``: the runner stops answering and is restarted).

Every call has a time budget (:mod:`vms_sdk.policy`). A call that raises or runs over is
logged under the plug-in's name and counted; after ``[plugin_host]
max_consecutive_failures`` (default 5) failures in a row the plug-in's runner is
restarted, and after a few restarts in a row it is quarantined until an operator reloads.

``@hookimpl(hookwrapper=True)``, ``wrapper``, ``tryfirst`` and ``trylast`` are refused at
load time: the host calls each plug-in's implementation on its own, in its own process,
so there is no chain to wrap and no order among plug-ins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pluggy

from vms_sdk.context import PluginContext
from vms_sdk.types import (
    AudioChunk,
    AudioSubscription,
    Camera,
    DeliveryResult,
    Event,
    Frame,
    FrameSubscription,
    Notification,
    PluginInfo,
    Route,
    SegmentInfo,
)

PROJECT_NAME = "vms"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------- identity & set-up


def retiring(message: str) -> Any:
    """Mark a hook the SDK will retire: a plug-in implementing it still loads, with
    ``message`` as a warning to its operator (pluggy's ``warn_on_impl``), for at least
    one minor release before a major removes it."""
    return hookspec(warn_on_impl=DeprecationWarning(message))


@hookspec
def vms_plugin_info() -> PluginInfo:
    """Say who the plug-in is. **Required.**

    Called once, when the plug-in is loaded, before any other hook. One answer per
    plug-in: the host calls each plug-in's implementation on its own.

    :return: a :class:`~vms_sdk.types.PluginInfo` with the plug-in's ``name`` (its
        settings table and URL prefix), ``version``, the ``api_version`` it was written
        against (``vms_sdk.API_VERSION``) and a one-line ``description``. The host
        refuses a plug-in whose ``api_version`` it cannot honour.
    """
    raise NotImplementedError


@hookspec
def vms_configure(config: Mapping[str, Any]) -> object | None:
    """Check the plug-in's settings before it starts.

    Called once after loading, before ``vms_startup``.

    :param config: the plug-in's ``[plugins.<name>]`` table from ``vms.toml`` (without
        the ``enabled`` key); empty when the operator wrote none.
    :return: anything (ignored), typically ``None``. Keep what you need and read it
        again from ``ctx.config`` later.
    :raises ConfigError: ``ConfigError(key, message)`` when a setting is missing or
        wrong. The host refuses the plug-in and tells the operator
        ``plugins.<name>.<key>: <message>``.
    """
    raise NotImplementedError


@hookspec
def vms_startup(ctx: PluginContext) -> None:
    """Start: open connections, start background work.

    Called once when the server starts (and after a reload). Budget: a few seconds;
    do long work in a task you start here.

    :param ctx: the plug-in's :class:`~vms_sdk.context.PluginContext`.
    :return: ``None``. An exception here keeps the plug-in from running.
    """
    raise NotImplementedError


@hookspec
def vms_shutdown(ctx: PluginContext) -> None:
    """Stop: close connections, cancel background work, flush state.

    Called once when the server stops or the plug-in is reloaded.

    :param ctx: the plug-in's context.
    :return: ``None``.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------- HTTP


@hookspec
def vms_routes(ctx: PluginContext) -> Iterable[Route]:
    """Add HTTP endpoints below ``/api/plugins/<name>/``.

    Called once after ``vms_startup``.

    :param ctx: the plug-in's context.
    :return: :class:`~vms_sdk.types.Route` values. Each handler receives an
        :class:`~vms_sdk.types.HttpRequest` and returns an
        :class:`~vms_sdk.types.HttpResponse`. Routes require a logged-in user unless
        declared ``public=True`` (for webhooks that check their own signature); the
        caller arrives as ``request.principal`` (role and visible cameras: show only
        what they may see), and ``Route(..., role="operator")`` lets only operators and
        admins in. Raise :class:`~vms_sdk.errors.HttpError` (``BadRequest``,
        ``NotFound``, ...) to refuse a request: it is answered as a JSON error and,
        unlike any other exception, never counts against the plug-in's health.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------- events


@hookspec
def vms_on_event(ctx: PluginContext, event: Event) -> None:
    """React to an event published on the server (by the host or any plug-in).

    Called once per event, including the plug-in's own. Budget: about two seconds.

    :param ctx: the plug-in's context.
    :param event: the :class:`~vms_sdk.types.Event`; check ``event.type`` first.
    :return: ``None``.
    """
    raise NotImplementedError


@hookspec
def vms_cameras_changed(ctx: PluginContext, cameras: Sequence[Camera]) -> None:
    """Learn that cameras were added, changed (renamed, moved, streaming or lost) or
    removed. New in API 1.2.

    Called with the whole new list, after ``ctx.list_cameras()`` already returns it. The
    server starts plug-ins before cameras that are configured or discovered later exist
    (``vms demo`` adds its simulated cameras after the plug-ins start): look cameras up
    when you need them, or keep your own index fresh here.

    :param ctx: the plug-in's context.
    :param cameras: every camera now known, as ``ctx.list_cameras()`` returns them.
    :return: ``None``.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------- media


@hookspec
def vms_frame_subscriptions(ctx: PluginContext) -> Iterable[FrameSubscription]:
    """Ask for decoded video frames.

    Called once after ``vms_startup``.

    :param ctx: the plug-in's context.
    :return: :class:`~vms_sdk.types.FrameSubscription` values (cameras, frames per
        second, stream, pixel format). Return nothing to receive no frames.
    """
    raise NotImplementedError


@hookspec
def vms_analyze_frame(ctx: PluginContext, frame: Frame) -> None:
    """Analyse one frame you subscribed to.

    Called with the newest frame available: if your analysis is slower than the frame
    rate, older frames are skipped, never queued. Do CPU work in a plain (sync)
    function: it runs in your own worker thread.

    :param ctx: the plug-in's context.
    :param frame: the :class:`~vms_sdk.types.Frame`; ``frame.image`` is read-only.
    :return: ``None``; publish findings with ``ctx.publish_event``.
    """
    raise NotImplementedError


@hookspec
def vms_audio_subscriptions(ctx: PluginContext) -> Iterable[AudioSubscription]:
    """Ask for decoded audio.

    Called once after ``vms_startup``.

    :param ctx: the plug-in's context.
    :return: :class:`~vms_sdk.types.AudioSubscription` values.
    """
    raise NotImplementedError


@hookspec
def vms_analyze_audio(ctx: PluginContext, chunk: AudioChunk) -> None:
    """Analyse one chunk of audio you subscribed to.

    :param ctx: the plug-in's context.
    :param chunk: the :class:`~vms_sdk.types.AudioChunk` (mono float32 samples).
    :return: ``None``.
    """
    raise NotImplementedError


@hookspec
def vms_on_segment_closed(ctx: PluginContext, segment: SegmentInfo) -> None:
    """Learn that a recording segment has been written and indexed.

    For off-line analysis or off-site copies. Open the file read-only.

    :param ctx: the plug-in's context.
    :param segment: the :class:`~vms_sdk.types.SegmentInfo`.
    :return: ``None``.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------- notifications


@hookspec
def vms_notify(ctx: PluginContext, notification: Notification) -> DeliveryResult | None:
    """Deliver a notification (channel plug-ins only).

    Called for every notification; deliver it only if ``notification.channel`` is the
    channel your plug-in provides, otherwise return ``None`` straight away.

    :param ctx: the plug-in's context.
    :param notification: the :class:`~vms_sdk.types.Notification`.
    :return: a :class:`~vms_sdk.types.DeliveryResult` when the notification was yours
        (``delivered=False`` with a ``detail`` when the far end refused it), else ``None``.
    """
    raise NotImplementedError
