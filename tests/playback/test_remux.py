"""The remux engine on files made by Debian's ffmpeg: torn fragments, gaps, cuts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.media.mediatools import FFMPEG, decode_errors, probe
from vms_core.playback.boxes import complete_length
from vms_core.playback.remux import (
    FASTSTART,
    FRAGMENTED,
    Output,
    SourceSegment,
    gaps_between,
    remux_range,
)

S = 1_000_000
BASE = 1_800_000_000 * S


@pytest.fixture(scope="module")
def fragmented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 320x180, 10 fps, keyframe every second, AAC: laid out like a recorded segment."""
    path = tmp_path_factory.mktemp("remux") / "segment.mp4"
    subprocess.run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10",
            "-f", "lavfi", "-i", "sine=f=440:r=16000", "-t", "6",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-bf", "0",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
            "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration", "1000000", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def test_a_torn_last_fragment_is_left_out(fragmented: Path, tmp_path: Path) -> None:
    whole = complete_length(fragmented)
    data = fragmented.read_bytes()
    assert data[whole + 4 : whole + 8] == b"mfra"  # only ffmpeg's closing index follows
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(data[: whole - 3000])  # a writer half-way through
    usable = complete_length(torn)
    assert 0 < usable < whole - 3000
    out = tmp_path / "out.mp4"
    result = remux_range(
        [SourceSegment(torn, BASE, None)],
        BASE,
        BASE + 60 * S,
        Output(str(out), "mp4", dict(FASTSTART)),
        keep_gaps=False,
    )
    assert result.start_us == BASE and result.has_audio
    assert decode_errors(out) == ""
    assert 4 <= probe(out).video_frames / 10 < 6  # the complete fragments, no torn one
    header_only = tmp_path / "header.mp4"
    header_only.write_bytes(data[:900])
    assert complete_length(header_only) < 900


def test_gaps_are_skipped_or_kept_and_cuts_start_on_a_keyframe(
    fragmented: Path, tmp_path: Path
) -> None:
    # Two 6 s segments with a 4 s hole between them.
    segments = [
        SourceSegment(fragmented, BASE, BASE + 6 * S),
        SourceSegment(fragmented, BASE + 10 * S, BASE + 16 * S),
    ]
    assert gaps_between(segments, BASE, BASE + 16 * S)[0].start_us == BASE + 6 * S
    start, end = BASE + 2_500_000, BASE + 13 * S
    skipped, kept = tmp_path / "skipped.mp4", tmp_path / "kept.mp4"
    result = remux_range(
        segments, start, end, Output(str(skipped), "mp4", dict(FRAGMENTED)), keep_gaps=False
    )
    # The keyframe before 2.5 s (ffmpeg's AAC priming moves video frames 64 ms later).
    assert result.start_us is not None and BASE + 2 * S <= result.start_us <= start
    assert result.end_us is not None and end - S // 10 < result.end_us <= end + S // 10
    remux_range(segments, start, end, Output(str(kept), "mp4", dict(FASTSTART)), keep_gaps=True)
    assert decode_errors(skipped) == "" and decode_errors(kept) == ""
    # 4 s of the first segment + 3 s of the second; the kept time line also holds the hole.
    assert abs(probe(skipped).duration - 7.0) < 0.2
    assert abs(probe(kept).duration - 11.0) < 0.2
    assert probe(skipped).video_frames == probe(kept).video_frames == 70
    assert probe(kept).keyframe_times[0] == probe(kept).first_video_time


def test_a_range_without_pictures_writes_nothing(fragmented: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.mp4"
    result = remux_range(
        [SourceSegment(fragmented, BASE, BASE + 6 * S)],
        BASE + 7 * S,
        BASE + 9 * S,
        Output(str(out), "mp4", dict(FASTSTART)),
        keep_gaps=False,
    )
    assert result.start_us is None and not out.exists()
