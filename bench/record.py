"""Recording benchmark: vms against one ffmpeg process per camera.

N cameras are recorded by each side for T seconds after a warm-up; we print CPU seconds
per camera-minute, PSS per camera (/proc/<pid>/smaps_rollup) and the ratios to ffmpeg in
the same run.

Sources (``--source``):
- ``simulator``: N simulated 1080p25 4 Mbit/s cameras (one pre-encoded loop) served by
  the project's RTSP server, in this process;
- ``gstreamer``: a third-party RTSP server, Debian's gst-rtsp-server through python3-gi
  (``bench/gst_rtsp_source.py``, run with /usr/bin/python3; the Debian packages are
  installed when missing), packetizing a 720p15 1.5 Mbit/s H.264 + AAC MP4 file.

What vms runs:
- default: the ``RecorderPool`` alone, with an in-memory catalog (the recorder's cost);
- ``--whole-server``: ``vms serve`` as a user starts it (plug-ins off; SQLite, or
  ``--database postgresql`` with a throw-away PostgreSQL it starts), with the process tree,
  the server process and the recorder workers measured apart, the server's fixed memory
  (PSS before any camera) apart, and the catalog's statements per second per 100 cameras
  (counted inside the server, ``VMS_CATALOG_STATEMENT_LOG``).

    .venv/bin/python bench/record.py --cameras 64 --seconds 60
    .venv/bin/python bench/record.py --whole-server --cameras 64 --seconds 60 --warmup 20
    .venv/bin/python bench/record.py --whole-server --database postgresql --cameras 64
    .venv/bin/python bench/record.py --whole-server --source gstreamer --cameras 32

The baseline is how Frigate records: ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vms_core.media.catalog import MemoryCatalog
from vms_core.media.ingest import IngestState
from vms_core.media.pool import RecorderPool, StateChanged, apply_to_catalog
from vms_core.media.segment_writer import SegmentPolicy

# The recorder workers are spawned: each imports this file again (as "__mp_main__"). What
# only the bench itself uses (the simulator, SQLAlchemy) is imported here only, so that the
# workers measured carry what the workers of `vms serve` carry, not the bench's own modules.
if __name__ == "__main__" or TYPE_CHECKING:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from vms_core.db.engine import STATEMENT_LOG_ENV, sync_url
    from vms_core.rtsp.server import RtspServer
    from vms_core.simulator.media.cache import load_or_encode
    from vms_core.simulator.media.encoder import EncodedLoop, LoopSpec
    from vms_core.simulator.media.player import LoopPlayer
    from vms_core.simulator.media.profiles import AudioProfile, VideoProfile
    from vms_core.simulator.media.scene import SceneConfig
    from vms_core.simulator.media.tracks import audio_track_info, video_track_info

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parents[1]
VMS = Path(sys.executable).parent / "vms"
PLUGINS = ("analytics", "gunshot", "lpr", "notify_chat")
GST_PACKAGES = [
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
]


@dataclass
class Figures:
    name: str
    cpu_seconds: float
    pss_bytes: int
    cameras: int
    seconds: float
    recorded: dict[str, float]  # camera -> seconds of media on disk

    @property
    def cpu_per_camera_minute(self) -> float:
        return self.cpu_seconds / (self.cameras * self.seconds / 60)

    @property
    def pss_per_camera(self) -> float:
        return self.pss_bytes / self.cameras


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone (ProcessLookupError from a dying process)
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def pss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:  # gone (ProcessLookupError from a dying process)
            continue
    return total


def media_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_format", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        return float(json.loads(out.stdout)["format"]["duration"])
    except (KeyError, ValueError):
        return 0.0


class Cameras:
    """The RTSP server and loop players, on an event loop in a thread of this process."""

    def __init__(self, encoded: EncodedLoop, count: int) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = RtspServer("127.0.0.1", 0)
        self.urls: dict[str, str] = {}

        async def start() -> None:
            await self.server.start()
            tracks = [video_track_info(encoded)]
            audio = audio_track_info(encoded)
            if audio:
                tracks.append(audio)
            for n in range(count):
                stream = self.server.add_stream(f"cam{n:03d}", tracks)
                LoopPlayer(encoded, stream.publish).start()
                self.urls[f"cam{n:03d}"] = self.server.url(f"cam{n:03d}")

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)


def run_ffmpeg(urls: dict[str, str], seconds: float, warmup: float, out: Path) -> Figures:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for camera, url in urls.items():
        folder = out / camera
        folder.mkdir(parents=True)
        # A 15 s socket timeout: on a loaded machine 64 connections at once took the
        # simulator over 5 s to answer, and a camera ffmpeg gave up on spoilt the run.
        processes[camera] = subprocess.Popen(
            [
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                "-rtsp_transport", "tcp", "-timeout", "15000000", "-i", url,
                "-c", "copy", "-f", "segment", "-segment_time", "60",
                "-segment_format", "mp4", "-reset_timestamps", "1", "-strftime", "1",
                str(folder / "%Y%m%d%H%M%S.mp4"),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.02)
    pids = [p.pid for p in processes.values()]
    time.sleep(warmup)
    cpu0 = cpu_seconds(pids)
    time.sleep(seconds / 2)
    pss = pss_bytes(pids)
    time.sleep(seconds / 2)
    cpu = cpu_seconds(pids) - cpu0
    died = [c for c, p in processes.items() if p.poll() is not None]
    if died:
        print(f"ffmpeg: {len(died)} processes exited early (e.g. {died[:3]}): the run is invalid")
    for process in processes.values():
        process.send_signal(2)  # SIGINT: ffmpeg finishes its files
    for process in processes.values():
        process.wait(30)
    recorded = {
        camera: sum(media_seconds(p) for p in (out / camera).glob("*.mp4")) for camera in urls
    }
    return Figures("ffmpeg", cpu, pss, len(urls), seconds, recorded)


def run_vms(
    urls: dict[str, str], seconds: float, warmup: float, out: Path, workers: int
) -> Figures:
    pool = RecorderPool(out, workers=workers, policy=SegmentPolicy(segment_seconds=60))
    catalog = MemoryCatalog()
    pool.start()
    streaming: set[str] = set()
    lost: list[str] = []

    def drain(timeout: float) -> None:
        for event in pool.poll_events(timeout):
            apply_to_catalog(event, catalog)
            if isinstance(event, StateChanged):
                if event.status.state == IngestState.STREAMING:
                    streaming.add(event.camera_id)
                elif event.status.state in (IngestState.LOST, IngestState.ERROR):
                    lost.append(f"{event.camera_id}: {event.status.reason}")

    for camera, url in urls.items():
        pool.add_camera(camera, url)
    started = time.monotonic()
    while time.monotonic() - started < warmup:
        drain(0.2)
    pids = pool.pids
    cpu0 = cpu_seconds(pids)
    half = time.monotonic() + seconds / 2
    while time.monotonic() < half:
        drain(0.2)
    pss = pss_bytes(pids)
    end = time.monotonic() + seconds / 2
    while time.monotonic() < end:
        drain(0.2)
    cpu = cpu_seconds(pids) - cpu0
    for event in pool.stop():
        apply_to_catalog(event, catalog)
    recorded = {
        camera: sum(
            (s.end - s.start).total_seconds() for s in catalog.segments(camera) if s.end is not None
        )
        for camera in urls
    }
    if lost:
        print(f"vms: {len(lost)} loss/error events, e.g. {lost[:3]}")
    print(f"vms: {len(streaming)}/{len(urls)} cameras streamed")
    return Figures("vms", cpu, pss, len(urls), seconds, recorded)


# -- the third-party source ------------------------------------------------------------------


def ensure_gstreamer() -> None:
    """Install Debian's GStreamer RTSP server when missing (root; as bench/webrtc does)."""
    probe = [
        "/usr/bin/python3", "-c",
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert Gst.ElementFactory.find('rtpmp4gpay') and Gst.ElementFactory.find('h264parse')",
    ]  # fmt: skip
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"installing {' '.join(GST_PACKAGES)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *GST_PACKAGES]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        subprocess.run(install, check=True, capture_output=True, env=env)


def gst_clip(cache: Path, seconds: int) -> Path:
    """A 720p15 1.5 Mbit/s H.264 (no B-frames, 2 s GOP) + AAC 16 kHz MP4 of ``seconds``."""
    clip = cache / f"gst-720p15-{seconds}s.mp4"
    if not clip.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = clip.with_suffix(".part.mp4")
        subprocess.run(
            [
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=15",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast",
                "-b:v", "1450k", "-maxrate", "1500k", "-bufsize", "3000k", "-g", "30", "-bf", "0",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-movflags", "+faststart",
                str(partial),
            ],
            check=True,
        )  # fmt: skip
        partial.rename(clip)
    return clip


class GstCameras:
    """Cameras served by gst-rtsp-server in its own process (Debian's Python)."""

    def __init__(self, clip: Path, count: int) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [
                "/usr/bin/python3", str(REPO / "bench" / "gst_rtsp_source.py"),
                "--file", str(clip), "--cameras", str(count), "--port", str(port),
            ],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"gst-rtsp-server did not start: {ready!r}")
        self.urls = {f"cam{n:03d}": f"rtsp://127.0.0.1:{port}/cam{n:03d}" for n in range(count)}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the whole server ------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGINT (the server stops its recorders and flushes), SIGKILL after 90 s."""
    server.send_signal(2)
    try:
        server.wait(90)
    except subprocess.TimeoutExpired:
        print(f"vms serve {server.pid} did not stop within 90 s of SIGINT; killed")
        server.kill()
        server.wait()


def server_config(folder: Path, urls: dict[str, str], database_url: str) -> Path:
    lines = [
        "[server]", 'host = "127.0.0.1"', "port = 0", 'data_dir = "data"',
        "[database]", f'url = "{database_url}"',
        "[storage]", 'recordings_dir = "recordings"', "segment_seconds = 60",
        "[onvif]", "listen_for_hello = false",
    ]  # fmt: skip
    for name in PLUGINS:
        lines += [f"[plugins.{name}]", "enabled = false"]
    for camera, url in urls.items():
        lines += ["[[cameras]]", f'name = "{camera}"', f'rtsp_url = "{url}"']
    config = folder / "vms.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@dataclass
class ServerFigures:
    tree: Figures
    server_cpu: float
    workers_cpu: float
    server_pss: int
    workers_pss: int
    fixed_pss: int  # the server process before any camera, plug-ins off
    statements: int
    statement_heads: dict[str, int]


def wait_all_recording(database_url: str, cameras: int, timeout: float) -> float:
    """Seconds waited until every camera has a segment in the catalog (+ 5 s to settle)."""
    started = time.monotonic()
    engine = create_engine(sync_url(database_url))
    try:
        while True:
            try:
                with engine.connect() as conn:
                    query = text("SELECT COUNT(DISTINCT camera_id) FROM segments")
                    if conn.execute(query).scalar_one() >= cameras:
                        break
            except DBAPIError:  # the schema is not there yet
                pass
            if time.monotonic() - started > timeout:
                print(f"whole server: not every camera recording after {timeout:.0f} s")
                return timeout
            time.sleep(1.0)
    finally:
        engine.dispose()
    waited = time.monotonic() - started
    if waited > 1.0:
        time.sleep(5.0)
        return waited + 5.0
    return 0.0


def catalog_seconds(database_url: str, cameras: list[str]) -> dict[str, float]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.name, SUM(s.end_us - s.start_us) FROM segments s "
                    "JOIN cameras c ON c.id = s.camera_id WHERE s.end_us IS NOT NULL "
                    "GROUP BY c.name"
                )
            )
            found = {name: float(total or 0) / 1e6 for name, total in rows}
    finally:
        engine.dispose()
    return {camera: found.get(camera, 0.0) for camera in cameras}


def run_whole_server(
    urls: dict[str, str], seconds: float, warmup: float, out: Path, database_url: str | None
) -> ServerFigures:
    out.mkdir(parents=True)
    database_url = database_url or f"sqlite:///{out / 'data' / 'vms.db'}"
    statements = out / "statements.log"
    env = {**os.environ, STATEMENT_LOG_ENV: str(statements)}
    # The server's fixed memory: the same server with no camera, plug-ins off.
    empty = out / "empty"
    empty.mkdir()
    fixed_db = database_url if database_url.startswith("postgresql") else ""
    with (empty / "serve.log").open("w") as log:
        bare = subprocess.Popen(
            [str(VMS), "serve", "--config", str(server_config(empty, {}, fixed_db))],
            stdout=log, stderr=subprocess.STDOUT, cwd=empty,
        )  # fmt: skip
        started = time.monotonic()
        while "listening on" not in (empty / "serve.log").read_text():
            if time.monotonic() - started > 120 or bare.poll() is not None:
                raise RuntimeError(f"vms serve did not start: {empty / 'serve.log'}")
            time.sleep(0.2)
        time.sleep(3.0)  # settled after start
        fixed_pss = pss_bytes([bare.pid])
        stop_server(bare)
    if fixed_db:  # start the measured run from an empty catalog
        with create_engine(sync_url(database_url)).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    log_file = (out / "serve.log").open("w")
    server = subprocess.Popen(
        [str(VMS), "serve", "--config", str(server_config(out, urls, database_url))],
        stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=out,
    )  # fmt: skip
    try:
        time.sleep(warmup)
        # Steady state: every camera recording (a start-up under load can outlast the
        # warm-up, and its reads and state changes are not the recording's cost).
        waited = wait_all_recording(database_url, len(urls), timeout=180)
        if waited:
            print(f"whole server: waited {waited:.0f} s more for every camera to record")
        tree = [server.pid, *descendants(server.pid)]
        workers = [p for p in tree if is_worker(p)]
        others = [p for p in tree if p != server.pid and p not in workers]
        if others:
            print(f"whole server: {len(others)} other processes in the tree (counted in it)")
        cpu0 = {"server": cpu_seconds([server.pid]), "workers": cpu_seconds(workers),
                "tree": cpu_seconds(tree)}  # fmt: skip
        t0 = time.time()
        time.sleep(seconds / 2)
        pss = {"server": pss_bytes([server.pid]), "workers": pss_bytes(workers),
               "tree": pss_bytes(tree)}  # fmt: skip
        time.sleep(seconds / 2)
        t1 = time.time()
        cpu = {
            "server": cpu_seconds([server.pid]) - cpu0["server"],
            "workers": cpu_seconds(workers) - cpu0["workers"],
            "tree": cpu_seconds(tree) - cpu0["tree"],
        }
    finally:
        stop_server(server)
        log_file.close()
    heads: dict[str, int] = {}
    for line in statements.read_text().splitlines():
        stamp, _tab, head = line.partition("\t")
        if t0 <= float(stamp) < t1:
            key = " ".join(head.split()[:3])
            heads[key] = heads.get(key, 0) + 1
    recorded = catalog_seconds(database_url, list(urls))
    figures = Figures("vms serve", cpu["tree"], pss["tree"], len(urls), seconds, recorded)
    return ServerFigures(
        figures, cpu["server"], cpu["workers"], pss["server"], pss["workers"], fixed_pss,
        sum(heads.values()), heads,
    )  # fmt: skip


def report_server(result: ServerFigures, ffmpeg: Figures | None, database: str) -> None:
    tree = result.tree
    minutes = tree.cameras * tree.seconds / 60
    per_100 = result.statements / tree.seconds * 100 / tree.cameras
    print(
        f"  server process CPU {result.server_cpu / minutes:.3f} s/camera-minute "
        f"({result.server_cpu / max(tree.cpu_seconds, 1e-9):.0%} of the tree), "
        f"workers {result.workers_cpu / minutes:.3f}"
    )
    print(
        f"  PSS: server process {result.server_pss / 1e6:.1f} MB in the run = "
        f"{result.server_pss / tree.cameras / 1e6:.2f} MB per camera (alone, with no camera: "
        f"{result.fixed_pss / 1e6:.1f} MB, its shared libraries not shared with workers); "
        f"workers {result.workers_pss / tree.cameras / 1e6:.2f} MB/camera"
    )
    print(
        f"  catalog ({database}): {result.statements} statements in {tree.seconds:.0f} s = "
        f"{per_100:.2f} per second per 100 cameras (goal <= 10): "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.statement_heads.items()))
    )
    if ffmpeg is not None:
        ratio_cpu = tree.cpu_per_camera_minute / ffmpeg.cpu_per_camera_minute
        ratio_pss = tree.pss_per_camera / ffmpeg.pss_per_camera
        print(
            f"ratio   whole tree CPU {ratio_cpu:.2f}x, PSS {ratio_pss:.2f}x of ffmpeg; "
            f"server process {result.server_cpu / max(tree.cpu_seconds, 1e-9):.0%} of the tree"
        )


def report(figures: Figures, expected: float) -> None:
    short = {c: round(s, 1) for c, s in figures.recorded.items() if s < expected}
    print(
        f"{figures.name:7s} CPU {figures.cpu_per_camera_minute:.3f} s/camera-minute, "
        f"PSS {figures.pss_per_camera / 1e6:.2f} MB/camera, "
        f"recorded min {min(figures.recorded.values()):.1f}s; "
        f"{len(short)} cameras short of {expected:.0f}s {dict(list(short.items())[:5])}"
    )


def camera_loop(cache: Path) -> EncodedLoop:
    """The benchmark camera (1080p25 4 Mbit/s H.264, AAC 16 kHz), encoded once into
    ``cache``; every simulated camera shares it."""
    spec = LoopSpec(
        SceneConfig(loop_seconds=10),
        VideoProfile(1920, 1080, 25, 4_000_000),
        AudioProfile("AAC", 16000),
    )
    cache.mkdir(parents=True, exist_ok=True)
    return load_or_encode(spec, cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=["vms", "ffmpeg"])
    parser.add_argument("--source", choices=["simulator", "gstreamer"], default="simulator")
    parser.add_argument(
        "--whole-server", action="store_true", help="measure `vms serve`, not the pool alone"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vms-bench-cache"
    )
    args = parser.parse_args()
    # The simulator reports when it falls behind; the recorded seconds show it anyway.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("vms_core.simulator").setLevel(logging.ERROR)

    gst: GstCameras | None = None
    if args.source == "gstreamer":
        ensure_gstreamer()
        # Each client gets the file from its start: long enough for a side and its stop.
        clip = gst_clip(args.cache, int(args.warmup + args.seconds + 40))
        gst = GstCameras(clip, args.cameras)
        urls = gst.urls
        where = "gst-rtsp-server (720p15 1.5 Mbit/s H.264 + AAC)"
    else:
        cameras = Cameras(camera_loop(args.cache), args.cameras)
        urls = cameras.urls
        where = f"the simulator on {cameras.server.url('')} (1080p25 4 Mbit/s H.264 + AAC)"
    with open("/proc/loadavg") as load:
        print(f"load average before the run: {' '.join(load.read().split()[:3])}")
    print(f"{args.cameras} cameras from {where}; {args.seconds:.0f}s each side")
    # Everything from the first keyframe to the stop must be on disk; allow the warm-up
    # (recording starts before the measurement window) minus connection time.
    expected = args.seconds
    results: dict[str, Figures] = {}
    work = Path(tempfile.mkdtemp(prefix="vms-bench-"))
    pg: Any = None
    try:
        if args.only in (None, "ffmpeg"):
            results["ffmpeg"] = run_ffmpeg(urls, args.seconds, args.warmup, work / "ff")
            report(results["ffmpeg"], expected)
        if args.only in (None, "vms") and args.whole_server:
            database_url = None
            if args.database == "postgresql":
                sys.path.insert(0, str(REPO))
                from tests.pgserver import throwaway_postgresql

                pg = throwaway_postgresql(fsync=True)
                database_url = pg.__enter__()
            whole = run_whole_server(urls, args.seconds, args.warmup, work / "vms", database_url)
            results["vms"] = whole.tree
            report(whole.tree, expected)
            report_server(whole, results.get("ffmpeg"), args.database)
        elif args.only in (None, "vms"):
            results["vms"] = run_vms(urls, args.seconds, args.warmup, work / "vms", args.workers)
            report(results["vms"], expected)
    finally:
        if pg is not None:
            pg.__exit__(None, None, None)
        if gst is not None:
            gst.stop()
        shutil.rmtree(work, ignore_errors=True)
    if len(results) == 2 and not args.whole_server:
        vms, ff = results["vms"], results["ffmpeg"]
        print(
            f"ratio   CPU {vms.cpu_per_camera_minute / ff.cpu_per_camera_minute:.2f}x "
            f"(goal <= 0.7x), PSS {vms.pss_per_camera / ff.pss_per_camera:.2f}x (goal <= 0.3x)"
        )
    sys.stdout.flush()
    os._exit(0)  # the RTSP server thread has no clean stop worth waiting for


if __name__ == "__main__":
    main()
