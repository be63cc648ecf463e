"""Keyframe-only playback (fast forward and reverse in the browser): only keyframes, each
lasting until the next, on the same wall-clock times as the full stream. Checked with
Debian's ffprobe and ffmpeg, and the clock burned into the pictures."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import aiohttp

from tests.conftest import bearer
from tests.media.mediatools import decode_errors, probe
from tests.playback.fragments import samples
from tests.playback.recorded import (
    FPS,
    MAIN,
    RecordingSite,
    clock_seconds,
    first_clock,
    minute_difference,
    recording_bias,
    seconds_of_minute,
)
from tests.playback.test_playback import closed_segments, fetch
from vms_core.timeutil import iso, parse_time

GOP_S = MAIN.gop_seconds


def continuous(path: Path) -> float:
    """Media seconds the file's samples cover, checking that each lasts until the next
    (a hole is where a browser's playback stalls)."""
    table = samples(path)
    for sample, following in itertools.pairwise(table):
        assert abs(sample.start + sample.duration - following.start) < 0.002, (sample, following)
    return table[-1].start + table[-1].duration - table[0].start


async def test_keyframes_only_covers_the_range_with_whole_pictures(
    site: RecordingSite, tmp_path: Path
) -> None:
    token = await asyncio.to_thread(site.admin_token)
    segments = closed_segments(site, "cam-a")
    start = segments[3][0] + 1_200_000
    end = start + 60_000_000
    full, keys = tmp_path / "full.mp4", tmp_path / "keys.mp4"
    began = time.perf_counter()
    status, headers = await fetch(site, token, "cam-a", start, end, full)
    full_s = time.perf_counter() - began
    assert status == 200
    began = time.perf_counter()
    status, key_headers = await fetch(site, token, "cam-a", start, end, keys, keyframes=True)
    keys_s = time.perf_counter() - began
    assert status == 200, key_headers
    # The same place on the wall clock as the full stream.
    assert key_headers["X-Vms-Start"] == headers["X-Vms-Start"]
    assert key_headers["X-Vms-Gaps"] == headers["X-Vms-Gaps"] == ""
    assert decode_errors(keys) == ""
    info = probe(keys)
    assert info.codecs == ["h264"], "no audio in a keyframe-only stream"
    assert info.video_frames == len(info.keyframe_times), "a picture that is not a keyframe"
    assert abs(info.video_frames - 60 / GOP_S) <= 2
    assert info.keyframe_times == probe(full).keyframe_times, "not the same keyframes"
    # Each keyframe lasts until the next, and the last one to the end of the range: as long
    # as the full stream, with no hole for a browser to stall on.
    assert abs(continuous(keys) - continuous(full)) <= 1 / FPS + 0.01
    # A figure, not a goal: the share depends on the GOP and the scene (bench/playback.py).
    size_full, size_keys = full.stat().st_size, keys.stat().st_size
    print(
        f"\n60 s of cam-a: full {size_full / 1e3:.0f} kB in {full_s:.2f} s, "
        f"keyframes only {size_keys / 1e3:.0f} kB in {keys_s:.2f} s "
        f"({size_keys / size_full:.0%} of the bytes)"
    )
    # The first picture is the one at X-Vms-Start.
    media_start = parse_time(key_headers["X-Vms-Start"])
    clock = first_clock(keys)
    assert clock is not None
    bias = recording_bias(site, "cam-a", media_start)
    assert minute_difference(clock_seconds(clock) + bias, seconds_of_minute(media_start)) <= 0.15


async def test_keyframes_only_skips_gaps_like_the_full_stream(
    site: RecordingSite, tmp_path: Path
) -> None:
    """cam-drop is down 3 s in every 10 s: the keyframes run on across the holes, which the
    headers list as for the full stream."""
    token = await asyncio.to_thread(site.admin_token)
    segments = closed_segments(site, "cam-drop")
    start = segments[5][0] + 500_000
    end = start + 30_000_000
    full, keys = tmp_path / "full.mp4", tmp_path / "keys.mp4"
    _, headers = await fetch(site, token, "cam-drop", start, end, full)
    status, key_headers = await fetch(site, token, "cam-drop", start, end, keys, keyframes=True)
    assert status == 200
    assert key_headers["X-Vms-Gaps"] == headers["X-Vms-Gaps"] != ""
    info = probe(keys)
    assert info.video_frames == len(info.keyframe_times)
    assert abs(continuous(keys) - continuous(full)) <= 1 / FPS + 0.01


async def test_keyframes_parameter_is_checked(site: RecordingSite) -> None:
    token = await asyncio.to_thread(site.admin_token)
    start = closed_segments(site, "cam-a")[0][0]
    url = f"{site.url}/api/cameras/{site.camera_ids['cam-a']}/playback.mp4"
    params = {"start": iso(start) or "", "keyframes": "often"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params=params, headers=bearer(token)) as response,
    ):
        assert response.status == 400
        body = await response.json()
        assert "keyframes" in body["error"]["message"]
