"""A third-party RTSP camera for the benchmarks: Debian's GStreamer RTSP server
(gst-rtsp-server through python3-gi) packetizing an MP4 file (H.264 + AAC), one mount per
camera, each client getting its own pipeline from the file's start.

Our simulator and our RTSP client may agree on things real cameras do not; this server
packetizes the way GStreamer does (its own SDP, RTP payloaders, RTCP, keep-alives).

Runs with Debian's Python, not the project's venv (python3-gi is a system package):

    /usr/bin/python3 bench/gst_rtsp_source.py --file clip.mp4 --cameras 32 --port 8554

It prints ``ready <port>`` once it listens, then serves until killed.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402  (after require_version)

# qtdemux's pads: video_0 (H.264) and audio_0 (AAC); config-interval=-1 repeats SPS/PPS
# with every IDR, as cameras do.
LAUNCH = (
    "( filesrc location={file} ! qtdemux name=d "
    "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 "
    "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--port", type=int, default=8554)
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for n in range(args.cameras):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH.format(file=args.file))
        factory.set_shared(False)
        # TCP-interleaved only, as our recorders ask for it.
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        mounts.add_factory(f"/cam{n:03d}", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print(f"ready {server.get_bound_port()}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
