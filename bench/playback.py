"""Playback benchmark: how fast a seek starts, and how fast a range remuxes.

Builds recorded segments like the recorder's (fragmented MP4, H.264, keyframe every
second) with Debian's ffmpeg, then asks ``remux_range`` for ranges starting at random
seconds, as a player seeking would. Prints, per seek, the time to the first byte and to the
first complete fragment (what a browser needs to show a picture), and the remux rate of a
long range across segments in media seconds per wall second and CPU seconds.

    .venv/bin/python bench/playback.py --size 1920x1080 --seconds 60 --segments 3
    .venv/bin/python bench/playback.py --size 640x360 --seconds 10 --segments 2   # quick
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vms_core.playback.remux import FRAGMENTED, Output, SourceSegment, remux_range

FPS = 25


def make_segment(path: Path, size: str, seconds: float, bitrate: str) -> None:
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
            "-b:v", bitrate, "-g", str(FPS), "-bf", "0", "-pix_fmt", "yuv420p",
            "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration", "1000000", str(path),
        ],
        check=True,
    )  # fmt: skip


class TimingSink:
    """Notes when the first byte and the first complete fragment (moof) went out."""

    def __init__(self, asked: float) -> None:
        self.asked = asked
        self.first_byte: float | None = None
        self.first_fragment: float | None = None
        self.bytes = 0
        self._seen = b""

    def write(self, data: bytes) -> int:
        now = time.perf_counter() - self.asked
        if self.first_byte is None:
            self.first_byte = now
        if self.first_fragment is None:
            self._seen += bytes(data)
            # The muxer writes a fragment's moof only once the fragment is complete.
            if b"moof" in self._seen:
                self.first_fragment = now
        self.bytes += len(data)
        return len(data)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--bitrate", default="4M")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each segment")
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--seeks", type=int, default=10)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vms-bench-playback-"))
    try:
        source = work / "segment.mp4"
        print(f"encoding a {args.seconds:g} s {args.size} {args.bitrate}bit/s segment ...")
        make_segment(source, args.size, args.seconds, args.bitrate)
        base = int(time.time() * 1e6) - 86_400_000_000
        length = int(args.seconds * 1e6)
        segments = []
        for index in range(args.segments):
            path = work / f"{index}.mp4"
            shutil.copy(source, path)
            segments.append(SourceSegment(path, base + index * length, base + (index + 1) * length))
        total = args.segments * length

        rng = random.Random(1)
        firsts, fragments = [], []
        for _ in range(args.seeks):
            start = base + rng.randrange(0, total - 5_000_000)
            asked = time.perf_counter()
            sink = TimingSink(asked)
            remux_range(
                segments,
                start,
                start + 3_000_000,
                Output(sink, "mp4", dict(FRAGMENTED)),
                keep_gaps=False,
            )
            assert sink.first_byte is not None and sink.first_fragment is not None
            firsts.append(sink.first_byte)
            fragments.append(sink.first_fragment)
        print(
            f"seek -> first byte:      median {statistics.median(firsts) * 1000:.1f} ms, "
            f"max {max(firsts) * 1000:.1f} ms ({args.seeks} seeks)"
        )
        print(
            f"seek -> first fragment:  median {statistics.median(fragments) * 1000:.1f} ms, "
            f"max {max(fragments) * 1000:.1f} ms"
        )

        cpu0, wall0 = cpu(), time.perf_counter()
        sink = TimingSink(wall0)
        result = remux_range(
            segments, base, base + total, Output(sink, "mp4", dict(FRAGMENTED)), keep_gaps=False
        )
        wall, used = time.perf_counter() - wall0, cpu() - cpu0
        media = total / 1e6
        print(
            f"whole range: {media:g} s of media across {args.segments} segments, "
            f"{result.video_frames} frames, {sink.bytes / 1e6:.1f} MB in {wall:.2f} s wall: "
            f"{media / wall:.0f}x real time, {used / media * 60:.3f} CPU-s per media minute"
        )
        # Fast forward and reverse in the browser ask for keyframes only.
        cpu0, wall0 = cpu(), time.perf_counter()
        keys = TimingSink(wall0)
        result = remux_range(
            segments,
            base,
            base + total,
            Output(keys, "mp4", dict(FRAGMENTED)),
            keep_gaps=False,
            keyframes_only=True,
        )
        wall, used = time.perf_counter() - wall0, cpu() - cpu0
        print(
            f"keyframes only: {result.video_frames} frames, {keys.bytes / 1e6:.1f} MB "
            f"({keys.bytes / sink.bytes:.0%} of the bytes) in {wall:.2f} s wall: "
            f"{media / wall:.0f}x real time, {used / media * 60:.3f} CPU-s per media minute"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
