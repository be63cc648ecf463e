"""Frame sampling for plug-ins: CPU cost per camera, and frames each plug-in receives.

Starts N simulated cameras and a server (not recording) with P folder plug-ins that all
subscribe to every camera's sub stream at F frames per second (gray), runs for T
seconds, then prints frames delivered and skipped per plug-in, decoded pictures per
camera, whether keyframes-only decoding was used, and the server process's CPU time
per camera-second (the simulator runs in the same process: its share is measured
first, with no plug-in, and subtracted).

    .venv/bin/python bench/plugin_frames.py --cameras 4 --plugins 3 --fps 1 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import textwrap
import time
from pathlib import Path

from vms_core.config import parse_config
from vms_core.server import VmsServer
from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
from vms_core.simulator.simulator import Simulator

PLUGIN = """
from vms_sdk import FrameSubscription, PluginInfo, hookimpl

@hookimpl
def vms_plugin_info():
    return PluginInfo("{name}", "1.0.0")

@hookimpl
def vms_frame_subscriptions():
    return [FrameSubscription(fps={fps}, stream="sub", fmt="gray")]

@hookimpl
def vms_analyze_frame(frame):
    frame.image.mean()
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(server: VmsServer | None, seconds: float) -> float:
    start = cpu_seconds()
    await asyncio.sleep(seconds)
    return cpu_seconds() - start


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="vms-bench-frames-"))
    sim = Simulator(
        SimulatorConfig(
            cameras=[
                CameraConfig(
                    name=f"bench-{i}",
                    password=f"pw-{i}",
                    main=VideoProfileConfig(width=640, height=360, fps=10),
                    sub=VideoProfileConfig(width=args.sub_width, height=args.sub_height, fps=10),
                )
                for i in range(args.cameras)
            ],
            discovery_port=0,
            discovery_multicast=False,
            cache_dir=work / "cache",
        )
    )
    await sim.start()
    folder = work / "plugins"
    folder.mkdir()
    names = [f"bench_{i}" for i in range(args.plugins)]
    for name in names:
        source = PLUGIN.format(name=name, fps=args.fps)
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    os.environ["VMS_PLUGINS"] = ",".join(names)
    cameras = "".join(
        f'[[cameras]]\nname = "{c.name}"\nrtsp_url = "{c.rtsp_main_url}"\n'
        f'sub_rtsp_url = "{c.rtsp_sub_url}"\nusername = "{c.username}"\n'
        f'password = "{c.password}"\n'
        for c in sim.cameras
    )
    text = (
        f'[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "data"\n'
        f'[plugin_host]\ndirs = ["{folder}"]\n' + cameras
    )
    baseline = await measure(None, min(5.0, args.seconds))  # simulator alone
    baseline_rate = baseline / min(5.0, args.seconds)
    server = VmsServer(parse_config(text, base_dir=work), None, record=False)
    await server.start()
    try:
        await asyncio.sleep(3.0)  # connect, learn the GOP
        for lane in server.plugins.frames.stats().values():
            lane.delivered = lane.dropped = lane.accepted = 0
        began = time.monotonic()
        used = await measure(server, args.seconds)
        elapsed = time.monotonic() - began
        plug_cpu = max(0.0, used - baseline_rate * elapsed)
        print(
            f"cameras={args.cameras} plug-ins={args.plugins} fps={args.fps} "
            f"sub={args.sub_width}x{args.sub_height} seconds={elapsed:.1f}"
        )
        for name, lane in sorted(server.plugins.frames.stats().items()):
            rate = lane.delivered / elapsed / max(1, args.cameras)
            print(
                f"  {name}: delivered {lane.delivered} ({rate:.2f}/s per camera), "
                f"skipped {lane.dropped}"
            )
        for (camera, stream), tap in sorted(server.plugins.sampler.taps().items()):
            mode = "keyframes only" if getattr(tap, "keyframes_only", False) else "all frames"
            decoded = getattr(tap, "decoded", 0)
            print(f"  camera {camera} {stream}: {mode}, decoded {decoded} pictures in total")
        print(
            f"  CPU for sampling and delivery: {plug_cpu:.2f} s in {elapsed:.1f} s = "
            f"{100 * plug_cpu / elapsed / max(1, args.cameras):.1f} % of a core per camera "
            f"(simulator baseline {100 * baseline_rate:.0f} % subtracted)"
        )
    finally:
        await server.stop()
        await sim.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--plugins", type=int, default=3)
    parser.add_argument("--fps", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sub-width", type=int, default=640)
    parser.add_argument("--sub-height", type=int, default=360)
    asyncio.run(main(parser.parse_args()))
