"""One RTSP library on both sides: the SDP our server writes is what our client reads."""

from __future__ import annotations

from vms_core.rtsp.media import TrackInfo
from vms_core.rtsp.sdp import parse_sdp
from vms_core.rtsp.stream import RtspStream

SPROP = "Z0LAHtoBQBbsBEAAAAMAQAAADyPFi2g=,aM4PyA=="


def test_the_clients_sdp_reader_reads_what_the_server_writes() -> None:
    stream = RtspStream(
        "cam",
        [
            TrackInfo("video", "H264", 90000, fmtp={"sprop-parameter-sets": SPROP}, fps=12.5),
            TrackInfo("audio", "MPEG4-GENERIC", 16000, fmtp={"config": "1408"}),
            TrackInfo("audio", "PCMU", 8000),
        ],
    )
    medias = parse_sdp(stream.sdp("127.0.0.1").decode())
    assert [(m.kind, m.encoding, m.clock_rate, m.control) for m in medias] == [
        ("video", "H264", 90000, "trackID=0"),
        ("audio", "MPEG4-GENERIC", 16000, "trackID=1"),
        ("audio", "PCMU", 8000, "trackID=2"),
    ]
    assert all(m.problem is None for m in medias)
    video, aac, _pcmu = medias
    assert video.fmtp["sprop-parameter-sets"] == SPROP
    assert video.fmtp["packetization-mode"] == "1"
    assert video.framerate == 12.5
    assert aac.fmtp["config"] == "1408" and aac.fmtp["mode"] == "AAC-hbr"
