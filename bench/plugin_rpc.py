"""Plug-in call overhead: an event call to a plug-in in its runner process (the server's
path: EventBus -> manager inbox -> RPC -> runner -> hook -> answer) against the same
hook called in-process under the same calling policy (vms_sdk.policy.HookCaller, what
the server did before plug-ins moved out), in one run.

Prints median and p99 per call for an ``async def`` hook and a plain one (a worker
thread on both sides), and the goal: <= 1 ms median per event call.

    .venv/bin/python bench/plugin_rpc.py --calls 2000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vms_sdk import Event
from vms_sdk.policy import HookCaller
from vms_sdk.runtime.loading import import_path

from tests.plugins.conftest import MemoryServices, granted
from vms_core.plugins import PluginManager

PLUGIN = """
from vms_sdk import PluginInfo, hookimpl

SEEN = [0]

@hookimpl
def vms_plugin_info():
    return PluginInfo("{name}", "1.0.0")

@hookimpl
{kind}def vms_on_event(event):
    SEEN[0] += 1
"""


def figures(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[int(0.99 * (len(samples) - 1))]
    return f"median {statistics.median(samples) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms"


async def out_of_process(folder: Path, name: str, calls: int) -> list[float]:
    manager = PluginManager(MemoryServices(), granted(name), [folder], use_entry_points=False)
    await manager.load()
    await manager.start()
    try:
        times = []
        for i in range(calls + 100):
            began = time.perf_counter()
            manager.dispatch_event(Event(f"bench.{i}"))
            await manager.wait_idle()
            if i >= 100:  # warmed up
                times.append(time.perf_counter() - began)
        return times
    finally:
        await manager.stop()


async def in_process(folder: Path, name: str, calls: int) -> list[float]:
    module = import_path(folder / f"{name}.py")
    caller = HookCaller(name)
    times = []
    for i in range(calls + 100):
        began = time.perf_counter()
        await caller.call("vms_on_event", module.vms_on_event, 2.0, event=Event(f"bench.{i}"))
        if i >= 100:
            times.append(time.perf_counter() - began)
    return times


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vms-bench-rpc-"))
    folder.chmod(0o755)
    for name, kind in (("async_hook", "async "), ("sync_hook", "")):
        (folder / f"{name}.py").write_text(textwrap.dedent(PLUGIN.format(name=name, kind=kind)))
    print(f"{args.calls} event calls each, after 100 to warm up")
    for name in ("async_hook", "sync_hook"):
        inside = await in_process(folder, name, args.calls)
        outside = await out_of_process(folder, name, args.calls)
        ratio = statistics.median(outside) / statistics.median(inside)
        print(f"  {name}: in-process {figures(inside)}")
        print(f"  {name}: runner     {figures(outside)}  ({ratio:.1f}x the in-process median)")
        goal = "met" if statistics.median(outside) <= 0.001 else "MISSED"
        print(f"  {name}: goal <= 1 ms median per event call: {goal}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
