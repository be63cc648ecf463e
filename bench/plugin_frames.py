"""Frames for an analysis plug-in: CPU per camera with the plug-in in its runner process
(pixels through shared memory) against the same plug-in called in-process (what the
server did before plug-ins moved out), in one run.

Starts N simulated cameras and a server (not recording, no plug-ins of its own), then
feeds one plug-in subscribed to every camera's sub stream at F frames per second (gray)
through the server's own frame sampler and dispatcher, T seconds each way:

* in-process: the plug-in module imported here, called under the same calling policy
  (``vms_sdk.policy.HookCaller``);
* runner: a ``PluginManager`` with the plug-in in its runner, pixels in shared memory.

CPU is this process's (server, sampler, simulator) plus the runner's, with the
simulator's share measured first (no plug-in) and subtracted. Goal: the runner's total
<= 1.3x the in-process total.

    .venv/bin/python bench/plugin_frames.py --cameras 8 --fps 5 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vms_sdk import AudioSubscription, Frame, FrameSubscription
from vms_sdk.policy import HookCaller
from vms_sdk.runtime.loading import import_path

from tests.plugins.conftest import MemoryServices, granted
from vms_core.config import parse_config
from vms_core.plugins import PluginManager
from vms_core.plugins.dispatch import AudioDispatcher, FrameDispatcher
from vms_core.plugins.frames import FrameSampler
from vms_core.server import VmsServer
from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
from vms_core.simulator.simulator import Simulator

PLUGIN = """
from vms_sdk import FrameSubscription, PluginInfo, hookimpl

@hookimpl
def vms_plugin_info():
    return PluginInfo("analyst", "1.0.0", requests=("frames",))

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


class InProcess:
    """What the frame dispatcher needs of a manager, with the plug-in in this process."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._caller = HookCaller("analyst")
        self._subscriptions = module.vms_frame_subscriptions()

    def is_callable(self, name: str) -> bool:
        return True

    def frame_subscriptions(self) -> dict[str, Sequence[FrameSubscription]]:
        return {"analyst": self._subscriptions}

    def audio_subscriptions(self) -> dict[str, Sequence[AudioSubscription]]:
        return {}

    async def analyze_frame(self, name: str, frame: Frame) -> None:
        await self._caller.call(
            "vms_analyze_frame", self._module.vms_analyze_frame, 5.0, frame=frame
        )


async def feed(
    server: VmsServer, manager: Any, seconds: float, runner_cpu: Any
) -> tuple[float, int]:
    """Feed ``manager``'s plug-in for ``seconds``: CPU used (here + its runner), frames."""
    frames = FrameDispatcher(manager)
    audio = AudioDispatcher(manager)
    frames.start()
    audio.start()
    sampler = FrameSampler(server.live, frames, audio, server.plugins.services.list_cameras)
    await sampler.refresh()
    try:
        await asyncio.sleep(3.0)  # connect, learn the GOP
        start_cpu, start_runner = cpu_seconds(), runner_cpu()
        delivered_before = sum(s.delivered for s in frames.stats().values())
        await asyncio.sleep(seconds)
        used = cpu_seconds() - start_cpu + runner_cpu() - start_runner
        delivered = sum(s.delivered for s in frames.stats().values()) - delivered_before
        return used, delivered
    finally:
        await sampler.stop()
        await frames.stop()
        await audio.stop()


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="vms-bench-frames-"))
    work.chmod(0o755)
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
    folder.mkdir(mode=0o755)
    (folder / "analyst.py").write_text(textwrap.dedent(PLUGIN.format(fps=args.fps)))
    os.environ["VMS_PLUGINS"] = ""  # the server's own host loads nothing
    cameras = "".join(
        f'[[cameras]]\nname = "{c.name}"\nrtsp_url = "{c.rtsp_main_url}"\n'
        f'sub_rtsp_url = "{c.rtsp_sub_url}"\nusername = "{c.username}"\n'
        f'password = "{c.password}"\n'
        for c in sim.cameras
    )
    text = '[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "data"\n' + cameras
    baseline_s = min(5.0, args.seconds)
    before = cpu_seconds()
    await asyncio.sleep(baseline_s)
    simulator_rate = (cpu_seconds() - before) / baseline_s
    server = VmsServer(parse_config(text, base_dir=work), None, record=False)
    await server.start()
    try:
        inside = InProcess(import_path(folder / "analyst.py"))
        in_cpu, in_frames = await feed(server, inside, args.seconds, lambda: 0.0)

        manager = PluginManager(
            MemoryServices(), granted("analyst"), [folder], use_entry_points=False
        )
        await manager.load()
        await manager.start()

        def runner_cpu() -> float:
            record = manager.get("analyst")
            if record is None or record.runner is None:
                return 0.0
            return record.runner.sample().cpu_seconds  # this run's figure, now

        try:
            out_cpu, out_frames = await feed(server, manager, args.seconds, runner_cpu)
        finally:
            await manager.stop()
    finally:
        await server.stop()
        await sim.stop()

    def per_camera(used: float) -> float:
        return 100 * max(0.0, used / args.seconds - simulator_rate) / args.cameras

    wanted = args.cameras * args.fps * args.seconds
    print(
        f"cameras={args.cameras} fps={args.fps} sub={args.sub_width}x{args.sub_height} "
        f"seconds={args.seconds:g} (simulator's {100 * simulator_rate:.0f} % of a core subtracted)"
    )
    for label, frames, used in (("in-process", in_frames, in_cpu), ("runner", out_frames, out_cpu)):
        share = per_camera(used)
        print(f"  {label:<10}: {frames}/{wanted:.0f} frames, {share:.2f} % of a core per camera")
    ratio = per_camera(out_cpu) / max(per_camera(in_cpu), 1e-9)
    verdict = "met" if ratio <= 1.3 else "MISSED"
    print(f"  runner / in-process CPU: {ratio:.2f}x (goal <= 1.3x): {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sub-width", type=int, default=640)
    parser.add_argument("--sub-height", type=int, default=360)
    asyncio.run(main(parser.parse_args()))
