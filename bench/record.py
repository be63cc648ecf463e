"""Recording benchmark: the vms recorder against one ffmpeg process per camera.

N simulated 1080p 4 Mbit/s cameras (all sharing one pre-encoded loop) are served by the
project's RTSP server; each side records all of them for T seconds, and we print CPU
seconds per camera-minute, PSS per camera (/proc/<pid>/smaps_rollup) and the ratios.

    .venv/bin/python bench/record.py --cameras 64 --seconds 60

The baseline is how Frigate records: ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState
from vms_core.media.pool import RecorderPool, StateChanged, apply_to_catalog
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.rtsp.server import RtspServer
from vms_core.simulator.media.cache import load_or_encode
from vms_core.simulator.media.encoder import EncodedLoop, LoopSpec
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.profiles import AudioProfile, VideoProfile
from vms_core.simulator.media.scene import SceneConfig
from vms_core.simulator.media.tracks import audio_track_info, video_track_info

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    name: str
    cpu_seconds: float
    pss_bytes: int
    cameras: int
    seconds: float
    recorded: dict[str, float]  # camera -> seconds of media on disk

    @property
    def cpu_per_camera_minute(self) -> float:
        return self.cpu_seconds / (self.cameras * self.seconds / 60)

    @property
    def pss_per_camera(self) -> float:
        return self.pss_bytes / self.cameras


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def pss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            continue
    return total


def media_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_format", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        return float(json.loads(out.stdout)["format"]["duration"])
    except (KeyError, ValueError):
        return 0.0


class Cameras:
    """The RTSP server and loop players, on an event loop in a thread of this process."""

    def __init__(self, encoded: EncodedLoop, count: int) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = RtspServer("127.0.0.1", 0)
        self.urls: dict[str, str] = {}

        async def start() -> None:
            await self.server.start()
            tracks = [video_track_info(encoded)]
            audio = audio_track_info(encoded)
            if audio:
                tracks.append(audio)
            for n in range(count):
                stream = self.server.add_stream(f"cam{n:03d}", tracks)
                LoopPlayer(encoded, stream.publish).start()
                self.urls[f"cam{n:03d}"] = self.server.url(f"cam{n:03d}")

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)


def run_ffmpeg(urls: dict[str, str], seconds: float, warmup: float, out: Path) -> Figures:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for camera, url in urls.items():
        folder = out / camera
        folder.mkdir(parents=True)
        processes[camera] = subprocess.Popen(
            [
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                "-rtsp_transport", "tcp", "-timeout", "5000000", "-i", url,
                "-c", "copy", "-f", "segment", "-segment_time", "60",
                "-segment_format", "mp4", "-reset_timestamps", "1", "-strftime", "1",
                str(folder / "%Y%m%d%H%M%S.mp4"),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.02)
    pids = [p.pid for p in processes.values()]
    time.sleep(warmup)
    cpu0 = cpu_seconds(pids)
    time.sleep(seconds / 2)
    pss = pss_bytes(pids)
    time.sleep(seconds / 2)
    cpu = cpu_seconds(pids) - cpu0
    for process in processes.values():
        process.send_signal(2)  # SIGINT: ffmpeg finishes its files
    for process in processes.values():
        process.wait(30)
    recorded = {
        camera: sum(media_seconds(p) for p in (out / camera).glob("*.mp4")) for camera in urls
    }
    return Figures("ffmpeg", cpu, pss, len(urls), seconds, recorded)


def run_vms(
    urls: dict[str, str], seconds: float, warmup: float, out: Path, workers: int
) -> Figures:
    pool = RecorderPool(out, workers=workers, policy=SegmentPolicy(segment_seconds=60))
    catalog = MemoryCatalog()
    pool.start()
    streaming: set[str] = set()
    lost: list[str] = []

    def drain(timeout: float) -> None:
        for event in pool.poll_events(timeout):
            apply_to_catalog(event, catalog)
            if isinstance(event, StateChanged):
                if event.status.state == IngestState.STREAMING:
                    streaming.add(event.camera_id)
                elif event.status.state in (IngestState.LOST, IngestState.ERROR):
                    lost.append(f"{event.camera_id}: {event.status.reason}")

    for camera, url in urls.items():
        pool.add_camera(camera, url)
    started = time.monotonic()
    while time.monotonic() - started < warmup:
        drain(0.2)
    pids = pool.pids
    cpu0 = cpu_seconds(pids)
    half = time.monotonic() + seconds / 2
    while time.monotonic() < half:
        drain(0.2)
    pss = pss_bytes(pids)
    end = time.monotonic() + seconds / 2
    while time.monotonic() < end:
        drain(0.2)
    cpu = cpu_seconds(pids) - cpu0
    for event in pool.stop():
        apply_to_catalog(event, catalog)
    recorded = {
        camera: sum(
            (s.end - s.start).total_seconds() for s in catalog.segments(camera) if s.end is not None
        )
        for camera in urls
    }
    if lost:
        print(f"vms: {len(lost)} loss/error events, e.g. {lost[:3]}")
    print(f"vms: {len(streaming)}/{len(urls)} cameras streamed")
    return Figures("vms", cpu, pss, len(urls), seconds, recorded)


def report(figures: Figures, expected: float) -> None:
    short = {c: round(s, 1) for c, s in figures.recorded.items() if s < expected}
    print(
        f"{figures.name:7s} CPU {figures.cpu_per_camera_minute:.3f} s/camera-minute, "
        f"PSS {figures.pss_per_camera / 1e6:.2f} MB/camera, "
        f"recorded min {min(figures.recorded.values()):.1f}s; "
        f"{len(short)} cameras short of {expected:.0f}s {dict(list(short.items())[:5])}"
    )


def camera_loop(cache: Path) -> EncodedLoop:
    """The benchmark camera (1080p25 4 Mbit/s H.264, AAC 16 kHz), encoded once into
    ``cache``; every simulated camera shares it."""
    spec = LoopSpec(
        SceneConfig(loop_seconds=10),
        VideoProfile(1920, 1080, 25, 4_000_000),
        AudioProfile("AAC", 16000),
    )
    cache.mkdir(parents=True, exist_ok=True)
    return load_or_encode(spec, cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=["vms", "ffmpeg"])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vms-bench-cache"
    )
    args = parser.parse_args()
    # The simulator reports when it falls behind; the recorded seconds show it anyway.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("vms_core.simulator").setLevel(logging.ERROR)

    cameras = Cameras(camera_loop(args.cache), args.cameras)
    print(f"{args.cameras} cameras on {cameras.server.url('')}; {args.seconds:.0f}s each side")
    # Everything from the first keyframe to the stop must be on disk; allow the warm-up
    # (recording starts before the measurement window) minus connection time.
    expected = args.seconds
    results: dict[str, Figures] = {}
    work = Path(tempfile.mkdtemp(prefix="vms-bench-"))
    try:
        if args.only in (None, "ffmpeg"):
            results["ffmpeg"] = run_ffmpeg(cameras.urls, args.seconds, args.warmup, work / "ff")
            report(results["ffmpeg"], expected)
        if args.only in (None, "vms"):
            results["vms"] = run_vms(
                cameras.urls, args.seconds, args.warmup, work / "vms", args.workers
            )
            report(results["vms"], expected)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(results) == 2:
        vms, ff = results["vms"], results["ffmpeg"]
        print(
            f"ratio   CPU {vms.cpu_per_camera_minute / ff.cpu_per_camera_minute:.2f}x "
            f"(goal <= 0.7x), PSS {vms.pss_per_camera / ff.pss_per_camera:.2f}x (goal <= 0.3x)"
        )
    sys.stdout.flush()
    os._exit(0)  # the RTSP server thread has no clean stop worth waiting for


if __name__ == "__main__":
    main()
