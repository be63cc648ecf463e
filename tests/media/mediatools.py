"""Real ffmpeg/ffprobe helpers for the media tests (Debian's binaries, not PyAV)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"


def make_clip(
    path: Path,
    seconds: float,
    *,
    fps: int = 10,
    gop: int = 10,
    audio: str | None = "aac",
    video: bool = True,
    fmt: str | None = None,
) -> Path:
    """A 320x180 H.264 test clip (no B-frames), optionally with audio."""
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=440:r=16000" if audio == "aac" else "sine=r=8000"]
    args += ["-t", str(seconds)]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-bf", "0"]
        args += ["-pix_fmt", "yuv420p"]
    if audio == "aac":
        args += ["-c:a", "aac", "-b:a", "32k"]
    elif audio:
        args += ["-c:a", audio]
    if fmt:
        args += ["-f", fmt]
    subprocess.run([*args, str(path)], check=True)
    return path


@dataclass(frozen=True)
class Probe:
    duration: float
    video_frames: int
    keyframe_times: list[float]
    first_video_time: float
    codecs: list[str]


def probe(path: Path) -> Probe:
    out = subprocess.run(
        [
            FFPROBE, "-v", "error", "-of", "json", "-show_streams", "-show_format",
            "-show_entries", "packet=stream_index,pts_time,flags,codec_type", "-show_packets",
            str(path),
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    video_index = next(s["index"] for s in data["streams"] if s["codec_type"] == "video")
    video = [p for p in data["packets"] if p["stream_index"] == video_index]
    return Probe(
        duration=float(data["format"]["duration"]),
        video_frames=len(video),
        keyframe_times=[float(p["pts_time"]) for p in video if "K" in p["flags"]],
        first_video_time=float(video[0]["pts_time"]) if video else -1.0,
        codecs=[s["codec_name"] for s in data["streams"]],
    )


def decode_errors(path: Path) -> str:
    """Everything Debian's ffmpeg complains about while decoding the whole file."""
    result = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True,
    )  # fmt: skip
    return result.stderr.strip() + ("" if result.returncode == 0 else f" rc={result.returncode}")
