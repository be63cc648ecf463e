"""WebRTC live view: N viewers of one 720p camera through vms, then through Janus.

The bench re-executes itself in a network namespace it creates (``unshare -n``): ``lo``
plus a veth pair whose one end carries 10.77.0.1. Both servers offer that address as
their ICE host candidate (Janus's libnice never offers loopback), and nothing can leave
the machine. In it, one simulated camera (1280x720, 25 fps, 2 Mbit/s, H.264, SEI send
time in every frame) runs in this process. Then, one after the other:

- vms: the server in a child process (WHEP, ``[webrtc] ice_loopback = "auto"``); N aiortc
  viewers spread over client processes;
- Janus (Debian ``janus``, installed with apt-get if missing): its streaming plug-in fed
  over RTP by ``ffmpeg -c copy`` from the same camera; the same N aiortc viewers.

Viewers never decode (nor decrypt every packet): they note each RTP packet's arrival.
Measured over a window that opens once every viewer has its first frame. Printed per
server: CPU seconds per viewer-second of the server process (vms: its ingest included;
Janus: janus alone, the ffmpeg feeding it shown apart) and the ratio, time to first frame
(offer or watch request → last packet of the first keyframe), added latency (simulator's
SEI send time → packet arrival, in the window), and frames received per viewer. The
client processes report their own CPU and event-loop lag; the bench says when they fell
behind (then latency figures include the clients' own delay).

    .venv/bin/python bench/webrtc.py --viewers 10 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PY = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FPS = 25
NETNS_ENV = "VMS_BENCH_NETNS"
BENCH_IFACE, BENCH_PEER, BENCH_ADDRESS = "vms0", "vms1", "10.77.0.1"
# ffmpeg's RTP packet size for Janus: aiortc's H.264 payloads (PACKET_MAX 1300) plus the
# 12-byte header, so both servers send the same number of packets per frame.
RTP_PACKET_BYTES = 1312
READY_TIMEOUT_S = 30.0  # every viewer should have its first frame well before this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of a process (user + system), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (a server's helpers count too)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo += children.get(current, [])
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# -- the network namespace ----------------------------------------------------------------


def reexec_in_namespace() -> None:
    """Run this bench again inside a new network namespace (root: ``unshare -n``;
    otherwise a user namespace too, ``unshare -rn``)."""
    flags = "-n" if os.geteuid() == 0 else "-rn"
    env = {**os.environ, NETNS_ENV: "1"}
    os.execvpe("unshare", ["unshare", flags, PY, __file__, *sys.argv[1:]], env)


def setup_namespace() -> None:
    """``lo`` up, and one non-loopback address both servers gather as their ICE host
    candidate: a dummy interface where the kernel has the module, else a veth pair (the
    address is local either way, so packets to it go over loopback)."""

    def ip(*args: str, check: bool = True) -> bool:
        done = subprocess.run(["ip", *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise SystemExit(f"ip {' '.join(args)}: {done.stderr.strip()}")
        return done.returncode == 0

    ip("link", "set", "lo", "up")
    if not ip("link", "add", BENCH_IFACE, "type", "dummy", check=False):
        ip("link", "add", BENCH_IFACE, "type", "veth", "peer", "name", BENCH_PEER)
        ip("link", "set", BENCH_PEER, "up")
    ip("addr", "add", f"{BENCH_ADDRESS}/24", "dev", BENCH_IFACE)
    ip("link", "set", BENCH_IFACE, "up")


# -- viewers (client processes) ---------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.started = 0.0
        self.first_frame: float | None = None
        self.sps_seen = False
        self.latencies: list[float] = []
        self.packets = 0
        self.frames = 0
        self.window = False  # counting: between the parent's "start" and "stop"


def install_receiver_hook(stats_of: dict[int, Stats]) -> None:
    """Record RTP arrivals instead of depacketizing and decoding them."""
    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    from vms_core.simulator.media.nal import parse_sei_send_time

    async def on_rtp(self: Any, packet: Any, arrival_time_ms: int) -> None:
        stats = stats_of.get(id(self))
        if stats is None:
            return
        payload = packet.payload
        if stats.first_frame is None:
            nal = payload[0] & 0x1F if payload else 0
            if nal == 7 or (nal == 24 and len(payload) > 3 and payload[3] & 0x1F == 7):
                stats.sps_seen = True
            if stats.sps_seen and packet.marker:
                stats.first_frame = time.monotonic() - stats.started
        if not stats.window:
            return
        stats.packets += 1
        if packet.marker:
            stats.frames += 1
        sent = parse_sei_send_time(payload)
        if sent is not None:
            stats.latencies.append(time.time() - sent)

    RTCRtpReceiver._handle_rtp_packet = on_rtp  # type: ignore[method-assign]


async def vms_viewer(http: Any, url: str, token: str, stats: Stats) -> tuple[Any, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    stats.started = time.monotonic()
    async with http.post(
        url,
        data=pc.localDescription.sdp,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
    ) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, transceiver.receiver


async def janus_viewer(http: Any, base: str, stats: Stats) -> tuple[Any, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": os.urandom(6).hex()}
        async with http.post(base + path, json=body) as response:
            result: dict[str, Any] = await response.json()
            return result

    stats.started = time.monotonic()
    session = (await post("", {"janus": "create"}))["data"]["id"]
    handle = (await post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))[
        "data"
    ]["id"]
    await post(f"/{session}/{handle}", {"janus": "message", "body": {"request": "watch", "id": 1}})
    offer = None
    while offer is None:
        async with http.get(f"{base}/{session}?maxev=1") as response:
            event = await response.json()
        offer = event.get("jsep") if isinstance(event, dict) else None
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if os.environ.get("BENCH_DEBUG"):
        print(offer["sdp"], file=sys.stderr)
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    receiver = next(t.receiver for t in pc.getTransceivers() if t.kind == "video")
    await pc.setLocalDescription(await pc.createAnswer())
    await post(
        f"/{session}/{handle}",
        {
            "janus": "message",
            "body": {"request": "start"},
            "jsep": {"type": "answer", "sdp": pc.localDescription.sdp},
        },
    )
    return pc, receiver


class LagProbe:
    """How late this process's event loop runs a 20 ms timer: a client that falls behind
    shows it here first."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            self.lags.append(time.monotonic() - before - 0.02)

    def stop(self) -> float:
        """95th percentile lag, seconds."""
        if self._task is not None:
            self._task.cancel()
        ordered = sorted(self.lags)
        return ordered[int(len(ordered) * 0.95)] if ordered else 0.0


async def run_clients(target: str, address: str, token: str, count: int) -> None:
    """One client process: ``count`` viewers; "start"/"stop" on stdin bound the window."""
    import aiohttp

    from vms_core.webrtc.ice import set_loopback_policy

    set_loopback_policy("auto")  # the namespace's 10.77.0.1, never loopback
    stats_of: dict[int, Stats] = {}
    install_receiver_hook(stats_of)
    all_stats = [Stats() for _ in range(count)]
    pcs = []
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        for stats in all_stats:
            if target == "vms":
                pc, receiver = await vms_viewer(http, address, token, stats)
            else:
                pc, receiver = await janus_viewer(http, address, stats)
            stats_of[id(receiver)] = stats
            pcs.append(pc)
        print(json.dumps({"connected": count}), flush=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and any(s.first_frame is None for s in all_stats):
            await asyncio.sleep(0.05)
        started = sum(s.first_frame is not None for s in all_stats)
        print(json.dumps({"ready": started}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # "start"
        probe = LagProbe()
        probe.start()
        cpu0, t0 = cpu_seconds(os.getpid()), time.monotonic()
        for stats in all_stats:
            stats.window = True
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
        for stats in all_stats:
            stats.window = False
        cpu = (cpu_seconds(os.getpid()) - cpu0) / (time.monotonic() - t0)
        print(
            json.dumps(
                {
                    "first_frame": [s.first_frame for s in all_stats],
                    "latency": [x for s in all_stats for x in s.latencies],
                    "frames": [s.frames for s in all_stats],
                    "packets": sum(s.packets for s in all_stats),
                    "cpu": cpu,
                    "lag_p95": probe.stop(),
                }
            ),
            flush=True,
        )
        for pc in pcs:
            await pc.close()


# -- the servers ---------------------------------------------------------------------


async def serve_vms(config: Path) -> None:
    from vms_core.accounts import store as accounts
    from vms_core.config import load_config
    from vms_core.db.models import User
    from vms_core.server import VmsServer

    server = VmsServer(load_config(config), config, record=False)
    await server.start()
    from sqlalchemy import select

    async with server.db.session() as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        _row, token = await accounts.create_token(session, admin.id, "bench")
    camera = (await server.cameras.visible())[0]
    print(json.dumps({"url": f"{server.url}/api/cameras/{camera.id}/whep", "token": token}))
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await server.stop()


_UNUSED_PLUGINS = ",".join(
    f"libjanus_{name}.so"
    for name in [
        "audiobridge",
        "echotest",
        "recordplay",
        "sip",
        "nosip",
        "textroom",
        "videocall",
        "videoroom",
        "voicemail",
        "duktape",
        "lua",
    ]
)
_UNUSED_TRANSPORTS = ",".join(
    f"libjanus_{name}.so" for name in ["websockets", "pfunix", "mqtt", "nanomsg", "rabbitmq"]
)


def janus_config(folder: Path, http_port: int, rtp_port: int) -> Path:
    (folder / "janus.jcfg").write_text(
        f"""general: {{ configs_folder = "{folder}"
  plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
  transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports"
  events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
  loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers"
  debug_level = 2
  session_timeout = 0 }}
media: {{ rtp_port_range = "40000-50000" }}
nat: {{ ice_enforce_list = "{BENCH_IFACE}" nice_debug = false }}
plugins: {{ disable = "{_UNUSED_PLUGINS}" }}
transports: {{ disable = "{_UNUSED_TRANSPORTS}" }}
events: {{ broadcast = false }}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{ base_path = "/janus" http = true port = {http_port}
  ip = "127.0.0.1" https = false }}
admin: {{ admin_http = false }}
"""
    )
    (folder / "janus.plugin.streaming.jcfg").write_text(
        f"""general: {{ }}
camera: {{ type = "rtp" id = 1 description = "bench camera" audio = false video = true
  videoport = {rtp_port} videopt = 96 videocodec = "h264"
  videofmtp = "profile-level-id=42e01f;packetization-mode=1" }}
"""
    )
    return folder


def ensure_janus() -> bool:
    if shutil.which("janus"):
        return True
    print("janus is not installed: apt-get install -y janus", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "janus"]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(f"apt-get install janus failed: {done.stderr.strip()[-500:]}", flush=True)
    return done.returncode == 0 and shutil.which("janus") is not None


# -- the run ----------------------------------------------------------------------------


async def start_clients(
    target: str, address: str, token: str, viewers: int, procs: int
) -> list[asyncio.subprocess.Process]:
    counts = [viewers // procs + (1 if i < viewers % procs else 0) for i in range(procs)]
    children = []
    for count in filter(None, counts):
        child = await asyncio.create_subprocess_exec(
            PY, __file__, "--role", "clients", "--target", target, "--address", address,
            "--token", token, "--viewers", str(count),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
            limit=1 << 24,  # one JSON line carries every latency sample
        )  # fmt: skip
        children.append(child)
    return children


async def tell(children: list[asyncio.subprocess.Process], line: str) -> None:
    for child in children:
        assert child.stdin is not None
        child.stdin.write(line.encode() + b"\n")
        await child.stdin.drain()


async def read_all(children: list[asyncio.subprocess.Process]) -> list[dict[str, Any]]:
    lines = []
    for child in children:
        assert child.stdout is not None
        lines.append(json.loads(await child.stdout.readline()))
    return lines


async def measure(
    name: str, pids: dict[str, int], address: str, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``pids``: the server process first, then any helper measured apart (ffmpeg)."""
    t_connect = time.monotonic()
    clients = await start_clients(name, address, token, args.viewers, args.client_procs)
    await read_all(clients)  # every viewer has sent its offer / watch request
    ready = sum(r["ready"] for r in await read_all(clients))
    connect_s = time.monotonic() - t_connect
    await tell(clients, "start")
    cpu0 = {key: tree_cpu_seconds(pid) for key, pid in pids.items()}
    busy0, total0 = machine_busy()
    t0 = time.monotonic()
    await asyncio.sleep(args.seconds)
    elapsed = time.monotonic() - t0
    cpu = {key: (tree_cpu_seconds(pid) - cpu0[key]) / elapsed for key, pid in pids.items()}
    busy1, total1 = machine_busy()
    await tell(clients, "stop")
    reports = await read_all(clients)
    for child in clients:
        await child.wait()
    first = [f for r in reports for f in r["first_frame"] if f is not None]
    latency = [x for r in reports for x in r["latency"]]
    frames = [f for r in reports for f in r["frames"]]
    server_cpu = cpu.pop(name)
    return {
        "name": name,
        "cpu": server_cpu,
        "cpu_per_viewer": server_cpu / args.viewers,
        "helpers": cpu,
        "first_median": statistics.median(first) if first else float("nan"),
        "first_count": len(first),
        "ready": ready,
        "connect_s": connect_s,
        "latency_median": statistics.median(latency) if latency else float("nan"),
        "latency_p95": sorted(latency)[int(len(latency) * 0.95)] if latency else float("nan"),
        "frames_min": min(frames, default=0),
        "frames_median": statistics.median(frames) if frames else 0,
        "expected_frames": FPS * elapsed,
        "packets": sum(r["packets"] for r in reports),
        "client_cpu_max": max(r["cpu"] for r in reports),
        "client_lag_p95": max(r["lag_p95"] for r in reports),
        "machine_busy": (busy1 - busy0) / max(1.0, total1 - total0) * (os.cpu_count() or 1),
    }


async def bench(args: argparse.Namespace) -> None:
    from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
    from vms_core.simulator.simulator import Simulator

    main = VideoProfileConfig(width=1280, height=720, fps=FPS, bitrate_kbps=2000, gop_seconds=2)
    sub = VideoProfileConfig(width=320, height=180, fps=5)
    camera = CameraConfig(
        name="bench-720p",
        main=main,
        sub=sub,
        audio="none",
        show_name=False,
        scene={"loop_seconds": 10},
    )
    cache = Path(tempfile.gettempdir()) / "vms-bench-loops"
    sim = Simulator(SimulatorConfig(cameras=[camera], discovery=False, cache_dir=cache))
    print("encoding / loading the 720p camera loop ...", flush=True)
    await sim.start()
    info = sim.cameras[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="vms-bench-webrtc-") as tmp:
        folder = Path(tmp)
        if not args.skip_vms:
            results.append(await run_vms(folder, info, args))
        if not args.skip_janus and ensure_janus():
            results.append(await run_janus(folder, info, args))
    await sim.stop()
    report(results, args)


async def run_vms(folder: Path, info: Any, args: argparse.Namespace) -> dict[str, Any]:
    config = folder / "vms.toml"
    # ice_loopback "auto": with 10.77.0.1 present the server offers it, not loopback.
    # Every viewer uses the one admin token: lift the per-user limit to the viewer count.
    limit = max(args.viewers, 1)
    config.write_text(
        f"""[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "{folder / "data"}"\n
[storage]\nrecordings_dir = "{folder / "rec"}"\n[webrtc]\nice_loopback = "auto"\n
max_sessions_per_user = {limit}\nmax_sessions = {max(limit, 256)}\n
[[cameras]]\nname = "{info.name}"\nrtsp_url = "{info.rtsp_main_url}"
username = "{info.username}"\npassword = "{info.password}"\nrecord = false\n"""
    )
    env = {**os.environ, "VMS_PLUGINS": ""}
    server = await asyncio.create_subprocess_exec(
        PY, __file__, "--role", "server", "--address", str(config),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, env=env,
    )  # fmt: skip
    assert server.stdout is not None and server.stdin is not None
    hello = json.loads(await server.stdout.readline())
    try:
        return await measure("vms", {"vms": server.pid}, hello["url"], hello["token"], args)
    finally:
        server.stdin.write(b"\n")
        await server.stdin.drain()
        await server.wait()


async def run_janus(folder: Path, info: Any, args: argparse.Namespace) -> dict[str, Any]:
    http_port, rtp_port = free_port(), free_port()
    janus_dir = folder / "janus"
    janus_dir.mkdir()
    janus_config(janus_dir, http_port, rtp_port)
    janus = await asyncio.create_subprocess_exec(
        "janus", "-C", str(janus_dir / "janus.jcfg"), "-F", str(janus_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = info.rtsp_main_url.replace("rtsp://", f"rtsp://{info.username}:{info.password}@")
    feeder = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
        "-an", "-c:v", "copy", "-payload_type", "96", "-f", "rtp",
        f"rtp://127.0.0.1:{rtp_port}?pkt_size={RTP_PACKET_BYTES}",
        stdout=subprocess.DEVNULL,  # the SDP it prints
    )  # fmt: skip
    try:
        await asyncio.sleep(2.0)  # janus up, the mountpoint fed
        base = f"http://127.0.0.1:{http_port}/janus"
        pids = {"janus": janus.pid, "ffmpeg feeding janus": feeder.pid}
        return await measure("janus", pids, base, "", args)
    finally:
        for process in (feeder, janus):
            process.terminate()
            await process.wait()


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    viewers = args.viewers
    print(
        f"\n{viewers} viewers of one 1280x720 {FPS} fps 2 Mbit/s H.264 camera, "
        f"{args.client_procs} client processes, {args.seconds:.0f} s window, "
        f"ICE over {BENCH_ADDRESS} in a private network namespace"
    )
    print(
        f"{'server':8} {'CPU':>7} {'CPU/viewer':>11} {'first frame':>12} "
        f"{'added latency':>14} {'p95':>8} {'frames/viewer (min, median / sent)':>36}"
    )
    for r in results:
        print(
            f"{r['name']:8} {r['cpu'] * 100:6.1f}% {r['cpu_per_viewer'] * 100:10.3f}% "
            f"{r['first_median'] * 1000:9.0f} ms {r['latency_median'] * 1000:11.1f} ms "
            f"{r['latency_p95'] * 1000:5.0f} ms "
            f"{r['frames_min']:>14} {r['frames_median']:>7.0f} / {r['expected_frames']:.0f}"
        )
    for r in results:
        helpers = ", ".join(f"{k} {v * 100:.1f}% of a core" for k, v in r["helpers"].items())
        print(
            f"  {r['name']}: {r['first_count']}/{viewers} viewers started "
            f"({r['ready']} before the window), all connected in {r['connect_s']:.1f} s, "
            f"{r['packets']} RTP packets in the window"
            + (f"; not counted above: {helpers}" if helpers else "")
        )
        behind = r["client_cpu_max"] > 0.9 or r["client_lag_p95"] > 0.05
        print(
            f"  {r['name']}: busiest client process {r['client_cpu_max'] * 100:.0f}% of a core, "
            f"its event loop late by {r['client_lag_p95'] * 1000:.0f} ms (p95); machine "
            f"busy {r['machine_busy']:.2f} of {os.cpu_count()} cores"
            + ("  << CLIENTS FELL BEHIND: add --client-procs" if behind else "")
        )
    by_name = {r["name"]: r for r in results}
    vms, janus = by_name.get("vms"), by_name.get("janus")
    if vms is not None and janus is not None:
        if janus["first_count"] == 0:
            print("janus: no viewer received video, so there is no CPU ratio")
        elif janus["cpu_per_viewer"] > 0:
            ratio = vms["cpu_per_viewer"] / janus["cpu_per_viewer"]
            print(f"CPU per viewer, vms / janus: {ratio:.2f}x (goal <= 1.0x)")
            # vms's figure includes its camera ingest; Janus's RTSP ingest is the ffmpeg.
            feeder = sum(janus["helpers"].values()) / args.viewers
            fair = vms["cpu_per_viewer"] / (janus["cpu_per_viewer"] + feeder)
            print(f"  with the ffmpeg feeding Janus counted as Janus's ingest: {fair:.2f}x")
    print("goals at 100 viewers: first frame < 400 ms median, added latency < 50 ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--client-procs", type=int, default=0, help="default: one per 20 viewers, at least 2"
    )
    parser.add_argument("--skip-janus", action="store_true")
    parser.add_argument("--skip-vms", action="store_true")
    parser.add_argument("--role", choices=["bench", "server", "clients"], default="bench")
    parser.add_argument("--target", default="vms")
    parser.add_argument("--address", default="")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # aioice and the audit log chat at INFO
    if args.client_procs <= 0:
        args.client_procs = max(2, -(-args.viewers // 20))
    if args.role == "server":
        asyncio.run(serve_vms(Path(args.address)))
    elif args.role == "clients":
        asyncio.run(run_clients(args.target, args.address, args.token, args.viewers))
    elif os.environ.get(NETNS_ENV) != "1":
        if not args.skip_janus:
            ensure_janus()  # here: the namespace the bench runs in has no route to Debian
        reexec_in_namespace()
    else:
        setup_namespace()
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
