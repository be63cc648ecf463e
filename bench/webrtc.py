"""WebRTC live view: N viewers of one 720p camera through vms, then through Janus.

One simulated camera (1280x720, 25 fps, 2 Mbit/s, H.264, SEI send time in every frame)
runs in this process. Then, one after the other:

- vms: the server in a child process (WHEP); N aiortc viewers in client processes;
- Janus (Debian ``janus``, installed with apt-get if missing): its streaming plug-in fed
  over RTP by ``ffmpeg -c copy`` from the same camera; the same N aiortc viewers.

Viewers never decode: they note each RTP packet's arrival. Printed per server: CPU
seconds per viewer-second of the server process (Janus: janus alone, ffmpeg not counted;
vms: its ingest included) and the ratio, time to first frame (offer or watch request →
last packet of the first keyframe), and added latency (simulator's SEI send time →
packet arrival, after the first 2 s of each viewer, so the cached-GOP start is excluded).

    .venv/bin/python bench/webrtc.py --viewers 10 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
WARMUP_S = 2.0  # per viewer: packets before this are the cached-GOP catch-up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# -- viewers (client processes) ---------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.started = 0.0
        self.first_frame: float | None = None
        self.sps_seen = False
        self.latencies: list[float] = []
        self.packets = 0


def install_receiver_hook(stats_of: dict[int, Stats]) -> None:
    """Record RTP arrivals instead of depacketizing and decoding them."""
    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    from vms_core.simulator.media.nal import parse_sei_send_time

    async def on_rtp(self: Any, packet: Any, arrival_time_ms: int) -> None:
        stats = stats_of.get(id(self))
        if stats is None:
            return
        now = time.time()
        stats.packets += 1
        payload = packet.payload
        nal = payload[0] & 0x1F if payload else 0
        if nal == 7 or (nal == 24 and len(payload) > 3 and payload[3] & 0x1F == 7):
            stats.sps_seen = True
        if stats.first_frame is None and stats.sps_seen and packet.marker:
            stats.first_frame = time.monotonic() - stats.started
        sent = parse_sei_send_time(payload)
        caught_up = stats.first_frame is not None and (
            time.monotonic() - stats.started > stats.first_frame + WARMUP_S
        )
        if sent is not None and caught_up:
            stats.latencies.append(now - sent)

    RTCRtpReceiver._handle_rtp_packet = on_rtp  # type: ignore[method-assign]


async def vms_viewer(http: Any, url: str, token: str, stats_of: dict[int, Stats]) -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    stats = Stats()
    stats_of[id(transceiver.receiver)] = stats
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
    return pc


async def janus_viewer(http: Any, base: str, stats_of: dict[int, Stats]) -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": os.urandom(6).hex()}
        async with http.post(base + path, json=body) as response:
            result: dict[str, Any] = await response.json()
            return result

    stats = Stats()
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
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            stats_of[id(transceiver.receiver)] = stats
    await pc.setLocalDescription(await pc.createAnswer())
    await post(
        f"/{session}/{handle}",
        {
            "janus": "message",
            "body": {"request": "start"},
            "jsep": {"type": "answer", "sdp": pc.localDescription.sdp},
        },
    )
    return pc


async def run_clients(target: str, address: str, token: str, count: int, seconds: float) -> None:
    import aiohttp

    from vms_core.webrtc.ice import set_loopback_policy

    set_loopback_policy("only")
    stats_of: dict[int, Stats] = {}
    install_receiver_hook(stats_of)
    pcs = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            if target == "vms":
                pcs.append(await vms_viewer(http, address, token, stats_of))
            else:
                pcs.append(await janus_viewer(http, address, stats_of))
        print(json.dumps({"connected": count}), flush=True)
        await asyncio.sleep(seconds)
        all_stats = list(stats_of.values())
        print(
            json.dumps(
                {
                    "first_frame": [s.first_frame for s in all_stats],
                    "latency": [x for s in all_stats for x in s.latencies],
                    "packets": sum(s.packets for s in all_stats),
                }
            ),
            flush=True,
        )
        for pc in pcs:
            await pc.close()


# -- the servers ---------------------------------------------------------------------


async def serve_vms(config: Path) -> None:
    from vms_core.api import accounts
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
nat: {{ ice_enforce_list = "127.0.0.1" nice_debug = false }}
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
    done = subprocess.run(["apt-get", "install", "-y", "janus"], capture_output=True)
    return done.returncode == 0 and shutil.which("janus") is not None


# -- the run ----------------------------------------------------------------------------


async def start_clients(
    target: str, address: str, token: str, viewers: int, procs: int, seconds: float
) -> list[asyncio.subprocess.Process]:
    counts = [viewers // procs + (1 if i < viewers % procs else 0) for i in range(procs)]
    children = []
    for count in filter(None, counts):
        children.append(
            await asyncio.create_subprocess_exec(
                PY,
                __file__,
                "--role",
                "clients",
                "--target",
                target,
                "--address",
                address,
                "--token",
                token,
                "--viewers",
                str(count),
                "--seconds",
                str(seconds),
                stdout=subprocess.PIPE,
                cwd=REPO,
                limit=1 << 24,  # one JSON line carries every latency sample
            )
        )
    return children


async def measure(
    name: str, pid: int, address: str, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    settle = 3.0
    clients = await start_clients(
        name, address, token, args.viewers, args.client_procs, args.seconds + settle
    )
    for child in clients:  # every viewer has sent its offer / watch request
        assert child.stdout is not None
        await child.stdout.readline()
    await asyncio.sleep(settle)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.seconds)
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    first: list[float] = []
    latency: list[float] = []
    packets = 0
    for child in clients:
        assert child.stdout is not None
        report = json.loads(await child.stdout.readline())
        first += [f for f in report["first_frame"] if f is not None]
        latency += report["latency"]
        packets += report["packets"]
        await child.wait()
    return {
        "name": name,
        "cpu": cpu,
        "cpu_per_viewer": cpu / args.viewers,
        "first_median": statistics.median(first) if first else float("nan"),
        "first_count": len(first),
        "latency_median": statistics.median(latency) if latency else float("nan"),
        "packets": packets,
    }


async def bench(args: argparse.Namespace) -> None:
    from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
    from vms_core.simulator.simulator import Simulator

    main = VideoProfileConfig(width=1280, height=720, fps=25, bitrate_kbps=2000, gop_seconds=2)
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
        config = folder / "vms.toml"
        config.write_text(
            f"""[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "{folder / "data"}"\n
[storage]\nrecordings_dir = "{folder / "rec"}"\n[webrtc]\nice_loopback = "only"\n
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
        results.append(await measure("vms", server.pid, hello["url"], hello["token"], args))
        server.stdin.write(b"\n")
        await server.stdin.drain()
        await server.wait()

        if not args.skip_janus and ensure_janus():
            results.append(await run_janus(folder, info, args))
    await sim.stop()
    report(results, args.viewers)


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
        f"rtp://127.0.0.1:{rtp_port}?pkt_size=1200",
    )  # fmt: skip
    try:
        await asyncio.sleep(2.0)  # janus up, the mountpoint fed
        return await measure("janus", janus.pid, f"http://127.0.0.1:{http_port}/janus", "", args)
    finally:
        for process in (feeder, janus):
            process.terminate()
            await process.wait()


def report(results: list[dict[str, Any]], viewers: int) -> None:
    print(f"\n{viewers} viewers of one 1280x720 25 fps 2 Mbit/s H.264 camera")
    print(f"{'server':8} {'CPU':>8} {'CPU/viewer':>11} {'first frame':>12} {'added latency':>14}")
    for r in results:
        print(
            f"{r['name']:8} {r['cpu'] * 100:7.1f}% {r['cpu_per_viewer'] * 100:10.2f}% "
            f"{r['first_median'] * 1000:9.0f} ms {r['latency_median'] * 1000:11.1f} ms"
            f"   ({r['first_count']}/{viewers} started, {r['packets']} packets)"
        )
    by_name = {r["name"]: r for r in results}
    janus = by_name.get("janus")
    if janus is not None and janus["first_count"] == 0:
        print(
            "janus: no viewer received video (its ICE offers no loopback candidate: "
            "libnice skips lo), so there is no CPU ratio"
        )
    elif janus is not None and janus["cpu_per_viewer"] > 0:
        ratio = by_name["vms"]["cpu_per_viewer"] / by_name["janus"]["cpu_per_viewer"]
        print(f"CPU per viewer, vms / janus: {ratio:.2f}x (goal <= 1.0x)")
    print("goals at 100 viewers: first frame < 400 ms median, added latency < 50 ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--skip-janus", action="store_true")
    parser.add_argument("--role", choices=["bench", "server", "clients"], default="bench")
    parser.add_argument("--target", default="vms")
    parser.add_argument("--address", default="")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    if args.role == "server":
        asyncio.run(serve_vms(Path(args.address)))
    elif args.role == "clients":
        asyncio.run(run_clients(args.target, args.address, args.token, args.viewers, args.seconds))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
