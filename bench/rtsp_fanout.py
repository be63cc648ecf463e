"""RTSP fan-out cost: N streams x M ffmpeg readers for T seconds.

Prints the server process's CPU seconds (RTSP server plus the looping publisher, which
stands in for the simulator) per stream-minute. The ffmpeg readers are child processes
and are not counted.

    .venv/bin/python bench/rtsp_fanout.py --streams 8 --readers 2 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.rtsp.clips import make_h264_aac_clip, publish_forever
from vms_core.rtsp import RtspServer


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(streams: int, readers: int, seconds: float, transport: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        clip = make_h264_aac_clip(Path(directory))
    server = RtspServer()
    await server.start()
    publishers = []
    for index in range(streams):
        stream = server.add_stream(f"cam{index}", clip.tracks)
        publishers.append(asyncio.create_task(publish_forever(stream, clip)))
    processes = []
    for index in range(streams):
        for _ in range(readers):
            processes.append(
                await asyncio.create_subprocess_exec(
                    "/usr/bin/ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-rtsp_transport",
                    transport,
                    "-i",
                    server.url(f"cam{index}"),
                    "-c",
                    "copy",
                    "-f",
                    "null",
                    "-",
                    stdin=asyncio.subprocess.DEVNULL,
                )
            )
    deadline = time.monotonic() + 15
    while sum(s.client_count for s in server.streams.values()) < streams * readers:
        if time.monotonic() > deadline:
            raise SystemExit("readers did not all start")
        await asyncio.sleep(0.1)
    cpu_before, wall_before = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = cpu_seconds() - cpu_before
    wall = time.monotonic() - wall_before
    clients = sum(s.client_count for s in server.streams.values())
    dropped = sum(session.dropped_units for session in server.sessions.values())
    for process in processes:
        process.terminate()
    for process in processes:
        await process.wait()
    for task in publishers:
        task.cancel()
    await server.stop()
    stream_minutes = streams * wall / 60
    print(
        f"streams={streams} readers/stream={readers} transport={transport} wall={wall:.1f}s "
        f"clients_at_end={clients} dropped_units={dropped}"
    )
    print(f"server+publisher CPU: {cpu:.2f}s = {cpu / stream_minutes:.3f} CPU-s per stream-minute")
    if readers:
        print(f"per client: {cpu / (stream_minutes * readers):.3f} CPU-s per client-minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    args = parser.parse_args()
    asyncio.run(run(args.streams, args.readers, args.seconds, args.transport))


if __name__ == "__main__":
    main()
