"""Playback of recorded ranges over HTTP, checked with Debian's ffprobe and the clock
burned into the simulated cameras' pictures. The recordings are the run's recorded site,
built faster than real time; playback of a segment still being written is in
test_live_edge.py, against a real recording."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import aiohttp

from tests.conftest import bearer
from tests.media.mediatools import decode_errors, probe
from tests.playback.recorded import (
    RecordingSite,
    clock_seconds,
    first_clock,
    minute_difference,
    seconds_of_minute,
)
from vms_core.timeutil import iso, parse_time


async def fetch(
    site: RecordingSite,
    token: str,
    camera: str,
    start_us: int,
    end_us: int | None,
    out: Path,
    *,
    keyframes: bool = False,
) -> tuple[int, dict[str, str]]:
    """GET playback.mp4 into ``out``: (status, headers). (Time to first byte: bench/playback.py.)"""
    camera_id = site.camera_ids.get(camera, 9999)
    params = {"start": iso(start_us) or ""}
    if end_us is not None:
        params["end"] = iso(end_us) or ""
    if keyframes:
        params["keyframes"] = "true"
    url = f"{site.url}/api/cameras/{camera_id}/playback.mp4"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params=params, headers=bearer(token)) as response,
    ):
        with out.open("wb") as file:
            async for chunk in response.content.iter_any():
                file.write(chunk)
        return response.status, dict(response.headers)


def closed_segments(site: RecordingSite, camera: str) -> list[tuple[int, int]]:
    return [(s.start_us, s.end_us) for s in site.segments(camera) if s.end_us is not None]


def recorded_time(segments: list[tuple[int, int]], wanted: int) -> int:
    """``wanted``, or just after the hole it falls in (a range starting in a hole starts
    at the next recording, not at a keyframe before the asked-for time)."""
    for start, end in segments:
        if start <= wanted < end:
            return wanted
        if wanted < start:
            return start + 700_000
    raise AssertionError("past the recording")


async def test_range_across_segments_plays_from_the_asked_second(
    site: RecordingSite, tmp_path: Path
) -> None:
    token = await asyncio.to_thread(site.admin_token)
    segments = closed_segments(site, "cam-a")
    start = recorded_time(segments, segments[0][0] + 3_000_000)
    end = start + 10_000_000
    assert sum(1 for s, e in segments if s < end and e > start) >= 2, segments
    out = tmp_path / "range.mp4"
    status, headers = await fetch(site, token, "cam-a", start, end, out)
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    media_start = parse_time(headers["X-Vms-Start"])
    # Starts at the keyframe at or before the asked-for time (keyframes every 0.5 s;
    # RTP jitter and the header's millisecond precision make room for 0.1 s more).
    assert start - 600_000 <= media_start <= start + 1000
    assert headers["X-Vms-Gaps"] == ""
    assert decode_errors(out) == ""
    info = probe(out)
    assert info.codecs[0] == "h264"
    assert abs(info.duration - (end - media_start) / 1e6) <= 1.0
    assert info.keyframe_times[0] == info.first_video_time
    clock = first_clock(out)
    assert clock is not None, "first picture must carry the simulator's clock"
    shown = clock_seconds(clock)
    # The first picture is the keyframe at or before the asked-for second, and exactly the
    # one X-Vms-Start names.
    assert minute_difference(shown, seconds_of_minute(start)) <= 0.6
    assert minute_difference(shown, seconds_of_minute(media_start)) <= 0.15


async def test_seeking_is_asking_again_with_a_new_start(
    site: RecordingSite, tmp_path: Path
) -> None:
    token = await asyncio.to_thread(site.admin_token)
    segments = closed_segments(site, "cam-b")
    base = segments[0][0]
    for offset_s in (12.3, 5.0):
        start = recorded_time(segments, base + int(offset_s * 1_000_000))
        out = tmp_path / f"seek-{offset_s}.mp4"
        status, headers = await fetch(site, token, "cam-b", start, start + 4_000_000, out)
        assert status == 200
        media_start = parse_time(headers["X-Vms-Start"])
        assert start - 600_000 <= media_start <= start + 1000
        clock = first_clock(out)
        assert clock is not None
        shown = clock_seconds(clock)
        assert minute_difference(shown, seconds_of_minute(start)) <= 0.6
        assert minute_difference(shown, seconds_of_minute(media_start)) <= 0.15
        assert abs(probe(out).duration - (start + 4_000_000 - media_start) / 1e6) <= 1.0


async def test_gaps_are_skipped_and_listed(site: RecordingSite, tmp_path: Path) -> None:
    token = await asyncio.to_thread(site.admin_token)
    segments = closed_segments(site, "cam-drop")
    holes = [(a[1], b[0]) for a, b in itertools.pairwise(segments) if b[0] > a[1]]
    assert holes, f"the dropping camera left no gap: {segments}"
    hole_start, hole_end = holes[0]
    start, end = hole_start - 2_000_000, hole_end + 2_000_000
    out = tmp_path / "gap.mp4"
    status, headers = await fetch(site, token, "cam-drop", start, end, out)
    assert status == 200
    media_start = parse_time(headers["X-Vms-Start"])
    gap_from, gap_to = headers["X-Vms-Gaps"].split(",")[0].split("/")
    assert abs(parse_time(gap_from) - hole_start) < 1000
    assert abs(parse_time(gap_to) - hole_end) < 1000
    assert decode_errors(out) == ""
    expected = (end - media_start - (hole_end - hole_start)) / 1e6
    assert abs(probe(out).duration - expected) <= 1.0


async def test_cameras_the_user_may_not_see_answer_404(site: RecordingSite, tmp_path: Path) -> None:
    allowed = await asyncio.to_thread(site.token, "pb-viewer", "viewer", [site.camera_ids["cam-b"]])
    start = closed_segments(site, "cam-a")[0][0] + 1_000_000
    out = tmp_path / "x.mp4"
    status, _ = await fetch(site, allowed, "cam-a", start, start + 2_000_000, out)
    assert status == 404
    status, _ = await fetch(site, allowed, "no-such-camera", start, start + 2_000_000, out)
    assert status == 404
    start_b = closed_segments(site, "cam-b")[0][0] + 1_000_000
    status, _ = await fetch(site, allowed, "cam-b", start_b, start_b + 2_000_000, out)
    assert status == 200
    # A range with nothing recorded is a 404 too, and says so.
    status, _ = await fetch(site, allowed, "cam-b", 1_000_000, 2_000_000, out)
    assert status == 404
