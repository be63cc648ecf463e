"""What serving simulated cameras costs: N cameras (main + sub + audio) for T seconds to N
concurrent ffmpeg readers, each reading one camera's main and sub streams.

Prints the simulator process's CPU seconds per camera-minute and its memory (RSS and
PSS). The readers are separate processes and are not counted.

    .venv/bin/python bench/simulator.py --cameras 64 --seconds 60

Cameras share one encoded loop per profile (``show_name = false``): the loops are
encoded once and cached (``--cache-dir``), so start-up encoding is not measured, and
serving cost does not depend on picture content because media is pre-encoded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VMS = ROOT / ".venv" / "bin" / "vms"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_mb(pid: int) -> tuple[float, float]:
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Pss:"):
            pss = int(line.split()[1]) / 1024
    return rss, pss


def config_text(cameras: int, loop_seconds: int) -> str:
    lines = ['host = "127.0.0.1"', "base_port = 0", "discovery = false", ""]
    for index in range(1, cameras + 1):
        lines += [
            "[[cameras]]",
            f'name = "bench-{index}"',
            f'password = "pass-{index}"',
            "show_name = false",
            f"scene = {{ loop_seconds = {loop_seconds} }}",
            "",
        ]
    return "\n".join(lines)


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)


def start_reader(camera: dict[str, str], transport: str) -> subprocess.Popen[bytes]:
    main = with_credentials(camera["rtsp_main_url"], camera["username"], camera["password"])
    sub = with_credentials(camera["rtsp_sub_url"], camera["username"], camera["password"])
    # Both inputs of one camera, copied to a null muxer: what a recorder with a
    # sub-stream analyser would pull.
    return subprocess.Popen(
        [
            "ffmpeg", "-nostdin", "-v", "error",
            "-rtsp_transport", transport, "-i", main,
            "-rtsp_transport", transport, "-i", sub,
            "-map", "0", "-map", "1", "-c", "copy", "-f", "null", "-",
        ],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    parser.add_argument("--loop-seconds", type=int, default=10)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "data" / "simulator-cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "cameras.toml"
        config.write_text(config_text(args.cameras, args.loop_seconds))
        command = [str(VMS), "simulate", "--config", str(config), "--json"]
        command += ["--cache-dir", str(args.cache_dir)]
        simulator = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert simulator.stdout is not None
        cameras: list[dict[str, str]] = []
        started = time.monotonic()
        while len(cameras) < args.cameras:
            line = simulator.stdout.readline()
            if not line:
                print("simulator exited before listing its cameras", file=sys.stderr)
                return 1
            cameras.append(json.loads(line))
        print(f"simulator ready in {time.monotonic() - started:.1f} s (pid {simulator.pid})")
        readers = [start_reader(camera, args.transport) for camera in cameras]
        try:
            time.sleep(args.warmup)
            cpu0, t0 = cpu_seconds(simulator.pid), time.monotonic()
            peak_rss = peak_pss = 0.0
            while time.monotonic() - t0 < args.seconds:
                time.sleep(min(5.0, args.seconds))
                rss, pss = memory_mb(simulator.pid)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            cpu1, t1 = cpu_seconds(simulator.pid), time.monotonic()
            failed = [r for r in readers if r.poll() is not None]
        finally:
            for reader in readers:
                reader.terminate()
            for reader in readers:
                reader.wait(10)
            simulator.terminate()
            simulator.wait(20)

    camera_minutes = args.cameras * (t1 - t0) / 60
    cpu = cpu1 - cpu0
    print(
        f"{args.cameras} cameras x (1080p15 main + 360p10 sub + AAC), "
        f"{len(readers)} ffmpeg readers over {args.transport}, {t1 - t0:.0f} s measured"
    )
    print(f"simulator CPU: {cpu:.2f} s = {cpu / camera_minutes:.3f} CPU-s per camera-minute")
    print(f"simulator memory: peak RSS {peak_rss:.0f} MB, peak PSS {peak_pss:.0f} MB")
    print(f"readers that stopped early: {len(failed)}")
    for reader in failed[:3]:
        err = reader.stderr.read().decode(errors="replace") if reader.stderr else ""
        print(f"  reader exit {reader.returncode}: {err.strip()[:300]}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
