"""LPR at city scale: N cameras of rendered plate passes through the real server.

Each camera shows its own programme of passes (``bench/lpr_passes.py``: four plate formats,
widths 60-160 px, roll and yaw, left, right and approaching), rendered and encoded here,
served by the project's simulator (aligned to the wall clock, so a pass's time is known).
``vms serve``'s server runs in a child process with the LPR plug-in on its defaults and
every plate on a hotlist; this process follows ``/api/events/stream`` for
``lpr.read`` and ``lpr.hotlist_hit`` and prints per camera: passes read exactly, one
character off, missed, false reads (on empty road or a plate not shown), frames analysed
and skipped (``GET /api/plugins``), the plug-in's CPU seconds per camera-minute and the
hotlist latency (plate fully in view to the hit arriving).

    .venv/bin/python bench/lpr.py --cameras 8          # one loop of 18 passes a camera

Run it on a quiet machine: the figures are CPU figures. ``uptime`` is printed first.

Measured on the 2-core development machine (shared; load average 3.0-4.0 during the run),
8 cameras of 1280x720 at 15 fps, 18 passes each, the plug-in on its defaults (3 fps,
workers "auto" = 2), 2026-12-07:

- exact: 134 of 143 passes (83-100 % per camera); plates >= 80 px 115 of 119, every
  camera 14/15 or 15/15 (>= 93 %); one character off: 3; reads on empty road: 0; one
  wrong text while a car passed (a street sign, "MAINST400", uncovered by the car);
- frames analysed 518-522 per camera, skipped 6-10, no camera behind;
- the LPR runner 1.94 CPU-s per camera-minute (the issue's figure before: 42.7), the
  whole server with decoding 4.10; per camera 1.7-1.8 ms motion a frame, 10.3-10.5 ms
  detection a moving region (~2 a second), 12.3-12.5 ms a recognised crop (~0.6 a second);
- runner RSS 316 MiB, address-space peak 902 MiB (RLIMIT_AS 2048 MB), the models 48 MiB;
- hotlist latency (plate wholly in view to the hit arriving) median 0.98 s, 0.86-1.02 s
  per camera.

An earlier run (load 3.4): 133/144 exact, >= 80 px 116/120, CPU 1.90, hit median 1.11 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lpr_passes import Clip, Programme, encode_programme, programme

from vms_core.rtsp.server import RtspServer
from vms_core.simulator.media.encoder import (
    EncodedLoop,
    EncodedTrack,
    EncodedUnit,
    LoopSpec,
)
from vms_core.simulator.media.nal import split_annexb
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.profiles import VideoProfile
from vms_core.simulator.media.scene import SceneConfig
from vms_core.simulator.media.tracks import video_track_info

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("VMS_BENCH_CACHE", "/tmp/vms-bench-cache"))
CLOCK = 90_000
READ_SLACK_S = 3.0  # a read counts for a pass up to this long after the car left


# ------------------------------------------------------------------------------ cameras


def encoded_loop(clip: Clip) -> EncodedLoop:
    """``clip`` as the simulator's loop (its parameter sets from the first IDR)."""
    prog = clip.prog
    step = CLOCK // prog.fps
    units = tuple(EncodedUnit(data, key, n * step) for n, (data, key) in enumerate(clip.units))
    sets: dict[str, bytes] = {}
    for nal in split_annexb(clip.units[0][0]):
        kind = nal[0] & 0x1F
        if kind == 7:
            sets.setdefault("sps", nal)
        elif kind == 8:
            sets.setdefault("pps", nal)
    video = EncodedTrack("video", "H264", CLOCK, prog.loop_s * CLOCK, units)
    profile = VideoProfile(1280, 720, prog.fps, prog.bitrate, gop_seconds=prog.gop_s)
    spec = LoopSpec(SceneConfig(loop_seconds=prog.loop_s), profile)
    return EncodedLoop(spec, video, None, sets)


class Cameras:
    """The simulator's RTSP server and loop players, on an event loop in a thread."""

    def __init__(self, clips: list[Clip]) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = RtspServer("127.0.0.1", 0)
        self.urls: dict[str, str] = {}

        async def start() -> None:
            await self.server.start()
            for clip in clips:
                name = f"lpr{clip.prog.camera:02d}"
                loop = encoded_loop(clip)
                stream = self.server.add_stream(name, [video_track_info(loop)])
                LoopPlayer(loop, stream.publish).start()
                self.urls[name] = self.server.url(name)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(60)


# ------------------------------------------------------------------------------ server


SERVE = """
import asyncio, json, sys
from pathlib import Path
from sqlalchemy import select
from vms_core.api import accounts
from vms_core.config import load_config
from vms_core.db.models import User
from vms_core.server import VmsServer

async def main() -> None:
    config = Path(sys.argv[1])
    server = VmsServer(load_config(config), config, record=False)
    await server.start()
    async with server.db.session() as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        _row, token = await accounts.create_token(session, admin.id, "bench")
    print(json.dumps({"url": server.url, "token": token}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await server.stop()

asyncio.run(main())
"""


def write_config(folder: Path, urls: dict[str, str], hotlist: Path) -> Path:
    lines = [
        "[server]", 'host = "127.0.0.1"', "port = 0", f'data_dir = "{folder / "data"}"',
        "[storage]", f'recordings_dir = "{folder / "rec"}"',
        "[onvif]", "listen_for_hello = false",
        "[plugins.lpr]", f'hotlists = {{ bench = "{hotlist}" }}', f'read = ["{hotlist}"]',
    ]  # fmt: skip
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group="vms.plugins"):
        if ep.name != "lpr":
            lines += [f"[plugins.{ep.name}]", "enabled = false"]
    for name, url in urls.items():
        lines += ["[[cameras]]", f'name = "{name}"', f'rtsp_url = "{url}"']
    config = folder / "vms.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@dataclass
class Seen:
    """What came out of the server's event stream."""

    reads: list[tuple[str, str, float]] = field(default_factory=list)  # camera, plate, time
    hits: list[tuple[str, str, float]] = field(default_factory=list)  # camera, plate, arrived


async def follow_events(url: str, token: str, seen: Seen, names: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{url}/api/events/stream", headers=headers) as response,
    ):
        kind = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "event":
                event = json.loads(line[6:])
                if not event.get("camera_ids"):
                    continue
                camera = names.get(str(event["camera_ids"][0]), "?")
                plate = str(event.get("data", {}).get("plate", ""))
                if event["type"] == "lpr.read":
                    when = _timestamp(event["time"])
                    seen.reads.append((camera, plate, when))
                elif event["type"] == "lpr.hotlist_hit":
                    seen.hits.append((camera, plate, time.time()))


def _timestamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def api(url: str, token: str, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url + path, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        response.raise_for_status()
        return await response.json()


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants (children reaped are not counted)."""
    total = 0.0
    pids = [pid]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    while pids:
        p = pids.pop()
        pids.extend(children.get(p, []))
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def vm_peak(pid: int) -> int:
    """Peak address space of ``pid`` in bytes (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ------------------------------------------------------------------------------ scoring


def one_off(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@dataclass
class CameraScore:
    passes: int = 0
    passes_80: int = 0
    exact: int = 0
    exact_80: int = 0
    one_off: int = 0
    empty_road: int = 0  # reads with no car passing
    wrong: int = 0  # reads of no plate shown (nor one character off) while a car passed
    latencies: list[float] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def score(
    prog: Programme, clip: Clip, reads: list[tuple[str, float]], hits: list[tuple[str, float]],
    begin: float, end: float,
) -> CameraScore:  # fmt: skip
    """Passes wholly inside [begin, end] (wall time) against the camera's reads; reads in
    [begin, end] that are no pass's plate (nor one character off it): on empty road, or
    a wrong text while a car passes."""
    out = CameraScore()
    windows: list[tuple[float, float, str]] = []  # every pass near the measured time
    first_loop = int(begin // prog.loop_s) - 1
    for k in range(first_loop, int(end // prog.loop_s) + 1):
        base = k * prog.loop_s
        for n, p in enumerate(prog.passes):
            start, stop = base + p.start_s, base + p.end_s
            windows.append((start - 1, stop + READ_SLACK_S, p.text))
            if start < begin or stop > end:
                continue
            out.passes += 1
            wide = p.width_px >= 80
            out.passes_80 += wide
            texts = {plate for plate, t in reads if start - 1 <= t <= stop + READ_SLACK_S}
            if p.text in texts:
                out.exact += 1
                out.exact_80 += wide
            elif any(one_off(p.text, t) for t in texts):
                out.one_off += 1
            in_view = clip.in_view_s[n]
            arrived = [t for plate, t in hits if plate == p.text and start - 1 <= t]
            if in_view is not None and arrived:
                out.latencies.append(min(arrived) - (base + in_view))
    for plate, t in reads:
        if not begin <= t <= end:
            continue
        passing = [text for lo, hi, text in windows if lo <= t <= hi]
        if not passing:
            out.empty_road += 1
            out.unmatched.append(f"{plate} on empty road at loop {t % prog.loop_s:.1f} s")
        elif not any(plate == q or one_off(plate, q) for q in passing):
            out.wrong += 1
            out.unmatched.append(f"{plate} while {'/'.join(passing)} passed")
    return out


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--passes", type=int, default=18)
    parser.add_argument("--loops", type=float, default=1.0, help="loops measured")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--verbose", action="store_true", help="list every read")
    args = parser.parse_args()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    started = time.monotonic()
    progs = [programme(n, passes=args.passes) for n in range(args.cameras)]
    clips = [encode_programme(p, CACHE) for p in progs]
    print(
        f"rendered {args.cameras} cameras x {args.passes} passes "
        f"({progs[0].loop_s} s loops, 1280x720 @ {progs[0].fps}) in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    cameras = Cameras(clips)
    with tempfile.TemporaryDirectory(prefix="vms-bench-lpr-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)  # the plug-in's runner (another user) reads the hotlist
        hotlist = folder / "hotlist.csv"
        plates = sorted({p.text for prog in progs for p in prog.passes})
        hotlist.write_text("plate,reason\n" + "".join(f"{p},bench\n" for p in plates))
        os.chmod(hotlist, 0o644)
        config = write_config(folder, cameras.urls, hotlist)
        run(config, progs, clips, args)


def run(config: Path, progs: list[Programme], clips: list[Clip], args: argparse.Namespace) -> None:
    with (config.parent / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            cwd=config.parent,
        )  # fmt: skip
        assert server.stdout is not None and server.stdin is not None
        hello = json.loads(server.stdout.readline())
        try:
            asyncio.run(measure(hello["url"], hello["token"], server.pid, progs, clips, args))
        finally:
            server.stdin.write("\n")
            server.stdin.flush()
            server.wait(90)


async def measure(
    url: str, token: str, pid: int, progs: list[Programme], clips: list[Clip],
    args: argparse.Namespace,
) -> None:  # fmt: skip
    listed = await api(url, token, "/api/cameras")
    rows = listed if isinstance(listed, list) else listed.get("cameras", listed.get("items", []))
    names = {str(c["id"]): c["name"] for c in rows}
    ids = {name: ident for ident, name in names.items()}
    seen = Seen()
    follower = asyncio.create_task(follow_events(url, token, seen, names))
    await asyncio.sleep(args.warmup)

    async def plugin() -> dict[str, Any]:
        found: dict[str, Any] = next(
            p for p in await api(url, token, "/api/plugins") if p["name"] == "lpr"
        )
        return found

    before = await plugin()
    cpu0, tree0, begin = before["health"]["cpu_seconds"], tree_cpu(pid), time.time()
    seconds = args.loops * max(p.loop_s for p in progs)
    await asyncio.sleep(seconds)
    after = await plugin()
    cpu1, tree1, end = after["health"]["cpu_seconds"], tree_cpu(pid), time.time()
    await asyncio.sleep(READ_SLACK_S + 1)
    if follower.done():
        raise RuntimeError(f"the event stream ended: {follower.exception()!r}")
    follower.cancel()
    print(f"events: {len(seen.reads)} reads, {len(seen.hits)} hotlist hits")
    loops = {f"lpr{p.camera:02d}": p.loop_s for p in progs}
    for camera, plate, t in seen.reads if args.verbose else ():
        print(f"  read {camera} {plate} at loop {t % loops[camera]:.2f} s (+{t - begin:.1f} s)")
    status = await api(url, token, "/api/plugins/lpr/status")
    minutes = len(progs) * (end - begin) / 60
    print(
        f"measured {end - begin:.0f} s; LPR runner {(cpu1 - cpu0) / minutes:.2f} CPU-s per "
        f"camera-minute, whole server {(tree1 - tree0) / minutes:.2f}; runner RSS "
        f"{after['health']['rss_bytes'] / 2**20:.0f} MiB, address space peak "
        f"{vm_peak(after['health']['pid']) / 2**20:.0f} MiB (the RLIMIT_AS it runs under); "
        f"loading the models added {(status.get('models_loaded_bytes') or 0) / 2**20:.0f} MiB; "
        f"warnings: {after['health'].get('warnings')}"
    )
    frames = after.get("frames", {}).get("cameras", {})
    print(
        f"{'camera':8} {'passes':>6} {'exact':>5} {'%':>4} {'>=80px':>7} {'1off':>4} "
        f"{'empty':>5} {'wrong':>5} {'analysed':>8} {'skipped':>7} {'det/s':>6} {'rec/s':>6} "
        f"{'hit p50':>7}"
    )
    totals = []
    for prog, clip in zip(progs, clips, strict=True):
        name = f"lpr{prog.camera:02d}"
        reads = [(plate, t) for cam, plate, t in seen.reads if cam == name]
        hits = [(plate, t) for cam, plate, t in seen.hits if cam == name]
        s = score(prog, clip, reads, hits, begin, end)
        totals.append(s)
        f = frames.get(ids.get(name, ""), {})
        st = status.get("cameras", {}).get(ids.get(name, ""), {})
        share = 100 * s.exact / s.passes if s.passes else 0.0
        wide = f"{s.exact_80}/{s.passes_80}"
        p50 = f"{statistics.median(s.latencies):.2f}" if s.latencies else "-"
        span = max(1.0, end - begin)
        print(
            f"{name:8} {s.passes:6} {s.exact:5} {share:4.0f} {wide:>7} {s.one_off:4} "
            f"{s.empty_road:5} {s.wrong:5} {f.get('analysed', 0):8} {f.get('skipped', 0):7} "
            f"{st.get('detections', 0) / span:6.2f} {st.get('recognitions', 0) / span:6.2f} "
            f"{p50:>7}"
        )
    for prog, s in zip(progs, totals, strict=True):
        for line in s.unmatched:
            print(f"  lpr{prog.camera:02d}: {line}")
    lat = [x for s in totals for x in s.latencies]
    print(
        f"all: {sum(s.exact for s in totals)}/{sum(s.passes for s in totals)} exact, "
        f">=80px {sum(s.exact_80 for s in totals)}/{sum(s.passes_80 for s in totals)}, "
        f"false reads on empty road {sum(s.empty_road for s in totals)}, wrong texts "
        f"{sum(s.wrong for s in totals)}, hotlist latency median "
        f"{statistics.median(lat) if lat else float('nan'):.2f} s (n={len(lat)})"
    )
    print("stage costs per camera (plug-in status):", json.dumps(status.get("cameras", {})))


if __name__ == "__main__":
    main()
