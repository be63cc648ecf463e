"""Playback: a recorded time range of a camera as one fragmented MP4, streamed as it is
remuxed. Seek by asking again with a new ``start``."""

from __future__ import annotations

import contextlib

from aiohttp import web

from vms_core.api.auth import principal, remote
from vms_core.api.errors import ApiError
from vms_core.api.keys import AUDIT, CAMERAS, PLAYBACK
from vms_core.api.params import path_int, query_bool, query_time
from vms_core.api.registry import ID_PATH, ApiRegistry, Param, time_param
from vms_core.playback import PlaybackStream, gaps_between
from vms_core.timeutil import iso, now_us

# Gaps listed in the X-Vms-Gaps header at most (HTTP clients cap header sizes at ~8 KB);
# past that X-Vms-Gaps-Truncated says so and the recordings listing has them all.
MAX_GAPS_IN_HEADER = 100


async def playback(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    camera_id = path_int(request, what="camera")
    camera = await request.app[CAMERAS].get(camera_id, who)
    if camera is None:
        raise ApiError(404, f"no camera {camera_id}")
    start = query_time(request, "start")
    if start is None:
        raise ApiError(400, "query parameter start: required")
    end = query_time(request, "end") or now_us()
    keyframes = query_bool(request, "keyframes") or False
    if end <= start:
        raise ApiError(400, "query parameter end: must be after start")
    segments = await request.app[PLAYBACK].segments(camera_id, start, end)
    if not segments:
        raise ApiError(404, f"no recording of camera {camera_id} from {iso(start)} to {iso(end)}")
    stream = PlaybackStream(segments, start, end, keep_gaps=False, keyframes_only=keyframes)
    try:
        first = await stream.started()
        if first is None:
            async for _ in stream.chunks():
                pass  # raises what the remux raised, if anything
            raise ApiError(
                404, f"no recording of camera {camera_id} from {iso(start)} to {iso(end)}"
            )
        gaps = gaps_between(segments, first, end)
        headers = {
            "Content-Type": "video/mp4",
            "Cache-Control": "no-store",
            "X-Vms-Start": iso(first) or "",
            "X-Vms-Gaps": ",".join(
                f"{iso(g.start_us)}/{iso(g.end_us)}" for g in gaps[:MAX_GAPS_IN_HEADER]
            ),
        }
        if len(gaps) > MAX_GAPS_IN_HEADER:
            headers["X-Vms-Gaps-Truncated"] = str(len(gaps))
        await request.app[AUDIT].record(
            "playback.start",
            username=who.username,
            target=f"camera:{camera_id}",
            remote=remote(request),
            detail={"start": iso(first), "end": iso(end), "keyframes": keyframes},
        )
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        # The viewer went away (seeked, closed the tab): aiohttp says so with a reset or a
        # plain ConnectionError("Connection lost"), depending on where the write was.
        with contextlib.suppress(ConnectionError):
            async for chunk in stream.chunks():
                await response.write(chunk)
            await response.write_eof()
        return response
    finally:
        stream.cancel()


def register(api: ApiRegistry) -> None:
    api.route(
        "GET",
        "/api/cameras/{id}/playback.mp4",
        summary="Recorded video of a time range as a fragmented MP4 (H.264, AAC), streamed. "
        "It starts at the keyframe at or before `start` (its wall-clock time is in the "
        "X-Vms-Start header) and runs to `end` (default: now). Gaps in the recording are "
        "skipped: media time t is wall time X-Vms-Start + t plus the length of every gap "
        "listed in X-Vms-Gaps (ISO 8601 intervals) that starts before that point.",
        tag="recordings",
        params=(
            ID_PATH,
            time_param("start", required=True),
            time_param("end", "default: now (what is recorded so far)"),
            Param(
                "keyframes",
                schema={"type": "boolean"},
                description="true: keyframes only, each lasting until the next, no audio "
                "(fast forward and reverse: a fraction of the bytes, and every position "
                "is a whole picture). Times and gaps are as for the full stream.",
            ),
        ),
        response={"type": "string", "format": "binary"},
        content_type="video/mp4",
    )(playback)
