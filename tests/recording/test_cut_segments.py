"""Segments cut off by a kill or a full disk: a file with a header and no media is closed
as empty (not left open for ever), and a cut-off fragment is found and dropped."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vms_core.media.catalog import MemoryCatalog
from vms_core.media.reconcile import reconcile
from vms_core.media.segment_writer import complete_fragments_end, parse_segment_name


def fragmented_mp4(path: Path) -> bytes:
    """Two seconds of 10 fps H.264 as the recorder writes it (one fragment per keyframe)."""
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
            "-i", "testsrc=size=320x180:rate=10", "-t", "2", "-c:v", "libx264", "-g", "10",
            "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def box_ends(data: bytes) -> dict[bytes, list[int]]:
    ends: dict[bytes, list[int]] = {}
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        offset += size
        ends.setdefault(kind, []).append(offset)
    return ends


def test_a_header_only_segment_left_open_is_closed_as_empty(tmp_path: Path) -> None:
    whole = fragmented_mp4(tmp_path / "whole.mp4")
    header_end = box_ends(whole)[b"moov"][0]
    name = "20261206T120000.000Z.mp4"
    path = tmp_path / "rec" / "cam" / "2026-12-06" / "12" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(whole[:header_end])  # killed right after the rollover
    catalog = MemoryCatalog()
    report = reconcile(tmp_path / "rec", catalog, known_closed=[], known_open=[path])
    assert report.unreadable == []
    assert [f.path for f in report.closed] == [path]
    record = catalog.segments()[0]
    assert record.closed and record.start == record.end == parse_segment_name(name)


def test_the_tail_of_a_cut_off_fragment_is_found(tmp_path: Path) -> None:
    whole = fragmented_mp4(tmp_path / "whole.mp4")
    ends = box_ends(whole)
    cut = tmp_path / "cut.mp4"
    # The disk filled in the middle of the second fragment's media.
    cut.write_bytes(whole[: ends[b"mdat"][1] - 100])
    with cut.open("rb") as file:
        assert complete_fragments_end(file) == ends[b"mdat"][0]
    # Its moof written, its mdat not at all: the moof goes too.
    cut.write_bytes(whole[: ends[b"moof"][1]])
    with cut.open("rb") as file:
        assert complete_fragments_end(file) == ends[b"mdat"][0]
    # A whole file (with its mfra index at the end) is whole.
    with (tmp_path / "whole.mp4").open("rb") as file:
        assert complete_fragments_end(file) == len(whole)
