"""A hostile plug-in against a real server: installed with pip as its own distribution,
loaded by `vms serve` (a process of its own, so SIGTERM is real) recording two simulated
cameras, with a live viewer watching and a victim plug-in holding a secret.

:func:`attack` runs the common script and checks what every hostile test asserts:
``/api/health`` p99 under 100 ms during the attack, no recording gap, live view keeps
playing, the plug-in restarted or quarantined with the reason shown, nothing secret
readable from inside the plug-in, uninstall + reload leaves nothing of it running, and
SIGTERM stops the server within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.eventually import eventually, eventually_sync
from tests.plugin_host.conftest import camera_tables, write_plugin
from vms_core.plugins.process import descendants
from vms_core.simulator.simulator import Simulator
from vms_core.webrtc.ice import set_loopback_policy

VICTIM_SECRET = "victim-hmac-secret-0123456789abcdef"
HEALTH_P99_S = 0.100  # the bound, as stated
SIGTERM_S = 10.0  # the bound, as stated
ATTACK_S = 5.0
LIVE_PAUSE_S = 2.0  # a hang guard over the typical 0.1-0.3 s (the live view keeps playing)

# Every hostile plug-in carries this probe: what it can reach from inside its runner.
PROBE = '''
import gc, glob, os, re

VICTIM = "victim-hmac-secret-"

def probe(ctx):
    """What this plug-in could read of the server's secrets and the victim's settings."""
    out = {}
    for name, path in dict(ctx.config.get("targets", {})).items():
        out[name] = _read(path)
    here = ctx.data_dir
    out["victim_folder"] = _read(str(here.parent / "victim" / "secret.txt"))
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
        except OSError:
            continue
        if "vms serve" in cmd or "vms_sdk.runtime.runner" in cmd:
            who = "server" if "vms serve" in cmd else f"runner {pid}"
            out[f"{who} environ"] = _read(f"/proc/{pid}/environ")
            out[f"{who} memory"] = _memory(pid)
    out["gc"] = "found" if any(
        isinstance(o, str) and o.startswith(VICTIM) and o != VICTIM for o in gc.get_objects()
    ) else "not found"
    out["own folder"] = _write_read(here / "probe.txt")
    return out

def _read(path):
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError as exc:
        return type(exc).__name__
    return "found" if VICTIM.encode() in data else f"read {len(data)} bytes"

def _memory(pid):
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except OSError as exc:
        return type(exc).__name__
    with mem:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            try:
                mem.seek(start)
                if VICTIM.encode() in mem.read(min(end - start, 1 << 24)):
                    return "found"
            except (OSError, ValueError, OverflowError):
                continue
    return "read, not found"

def _write_read(path):
    try:
        path.write_text("mine")
        return path.read_text()
    except OSError as exc:
        return type(exc).__name__
'''

VICTIM = """
    from vms_sdk import PluginInfo, hookimpl

    SECRET = []

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("victim", "1.0.0", description="holds a secret setting")

    @hookimpl
    def vms_startup(ctx):
        SECRET.append(ctx.config["hmac_secret"])
        (ctx.data_dir / "secret.txt").write_text(ctx.config["hmac_secret"])
"""


def hostile_source(name: str, hooks: str, requests: tuple[str, ...] = ()) -> str:
    """A plug-in module: the probe, a ``/probe`` route, and the hostile ``hooks``."""
    return (
        PROBE
        + textwrap.dedent(
            f"""
            from vms_sdk import HttpResponse, PluginInfo, Route, hookimpl

            @hookimpl
            def vms_plugin_info():
                return PluginInfo("{name}", "6.6.6", requests={requests!r})

            @hookimpl
            def vms_routes(ctx):
                return [Route("GET", "/probe", lambda request: HttpResponse(json=probe(ctx)))]
            """
        )
        + textwrap.dedent(hooks)
    )


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    return subprocess.run(command, capture_output=True, text=True)


@contextlib.contextmanager
def installed(folder: Path, name: str, source: str) -> Iterator[str]:
    """``vms-plugin-<name>`` built from ``source`` and pip-installed into the venv."""
    dist = f"vms-plugin-{name}"
    project = folder / dist
    package = project / f"vms_plugin_{name}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "6.6.6"
            dependencies = ["vms-sdk"]

            [project.entry-points."vms.plugins"]
            {name} = "vms_plugin_{name}"
            """
        )
    )
    done = pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(project))
    assert done.returncode == 0, done.stderr
    importlib.invalidate_caches()
    try:
        yield dist
    finally:
        uninstall(dist)


def uninstall(dist: str) -> None:
    pip("uninstall", "-y", dist)
    importlib.invalidate_caches()


@dataclass
class Vms:
    """`vms serve` in a process of its own."""

    process: subprocess.Popen[bytes]
    url: str
    http: aiohttp.ClientSession
    log: Path
    data_dir: Path

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(self.url + path, params=params) as r:
            assert r.status == 200, (path, r.status, await r.text())
            return await r.json()

    async def plugin(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = next(
            (p for p in await self.get("/api/plugins") if p["name"] == name), None
        )
        return found

    def runners(self) -> list[int]:
        return [p for p in descendants(self.process.pid) if _is_runner(p)]


def _is_runner(pid: int) -> bool:
    try:
        return b"vms_sdk.runtime.runner" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def start_vms(
    tmp_path: Path, sim: Simulator, name: str, plugin_toml: str, host_toml: str = ""
) -> Vms:
    victim = write_plugin(tmp_path / "folder-plugins", "victim", VICTIM)
    data = tmp_path / "data"
    config = tmp_path / "vms.toml"
    targets = {
        "secret_key": str(data / "secret.key"),
        "catalog": str(data / "vms.db"),
        "shadow": "/etc/shadow",
    }
    config.write_text(
        '[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "data"\n'
        '[storage]\nrecordings_dir = "recordings"\nsegment_seconds = 2\n'
        + '[webrtc]\nice_loopback = "only"\n'  # only loopback exists in the test namespace
        + camera_tables(sim)
        + f'\n[plugin_host]\ndirs = ["{victim}"]\nheartbeat_seconds = 2\nmax_restarts = 1\n'
        + "restart_backoff_seconds = 0.5\n"
        + host_toml
        + f'\n[plugins.victim]\nhmac_secret = "{VICTIM_SECRET}"\n'
        + f"\n[plugins.{name}]\ntargets = {_toml_table(targets)}\n"
        + plugin_toml
    )
    log = tmp_path / "server.log"
    env = {**os.environ, "VMS_PLUGINS": f"{name},victim"}
    vms = Path(sys.executable).parent / "vms"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(vms), "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def started() -> tuple[str, str]:
        text = log.read_text(errors="replace")
        assert process.poll() is None, text
        url = password = ""
        for line in text.splitlines():
            if " listening on " in line:
                url = line.rsplit(" ", 1)[1]
            if "created user admin with password " in line:
                password = line.split("with password ", 1)[1].split()[0]
        assert url and password, text[-2000:]
        return url, password

    url, password = await eventually(lambda: started(), 60, 0.1, what="vms serve listening")
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # an IP host
    async with http.post(
        url + "/api/auth/login", json={"username": "admin", "password": password}
    ) as r:
        assert r.status == 200, await r.text()
    return Vms(process, url, http, log, data)


def _toml_table(values: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in values.items()) + " }"


@dataclass
class Viewer:
    """A WHEP viewer of one camera that notes when each picture arrives."""

    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    arrivals: list[float] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def watch(self, vms: Vms, camera_id: int) -> None:
        set_loopback_policy("only")  # this end gathers loopback candidates too
        self.pc.addTransceiver("video", direction="recvonly")
        got_track: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video" and not got_track.done():
                got_track.set_result(track)

        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with vms.http.post(
            f"{vms.url}/api/cameras/{camera_id}/whep",
            data=self.pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp"},
        ) as r:
            assert r.status == 201, await r.text()
            answer = await r.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        track = await asyncio.wait_for(got_track, 30)  # a hang guard

        async def receive() -> None:
            while True:
                await track.recv()
                self.arrivals.append(time.monotonic())

        self.task = asyncio.create_task(receive())
        await eventually(lambda: len(self.arrivals) >= 5, 30, 0.05, what="live pictures")

    def longest_pause(self, start: float, end: float) -> float:
        inside = [t for t in self.arrivals if start <= t <= end]
        edges = [start, *inside, end]
        return max(b - a for a, b in itertools.pairwise(edges))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.pc.close()


async def health_latencies(vms: Vms, seconds: float) -> list[float]:
    """``/api/health`` asked again and again for ``seconds``: each answer's latency."""
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        before = time.perf_counter()
        async with vms.http.get(vms.url + "/api/health") as r:
            await r.read()
            assert r.status == 200
        latencies.append(time.perf_counter() - before)
        await asyncio.sleep(0.01)
    return latencies


@dataclass
class Outcome:
    """What an attack did, for the test's own extra checks."""

    plugin: dict[str, Any]
    probe: dict[str, Any]
    health_p99_s: float
    health_median_s: float
    pause_s: float
    sigterm_s: float
    log: str


Trigger = Callable[[Vms], Awaitable[None]]


@contextlib.asynccontextmanager
async def hostile_server(
    tmp_path: Path,
    sim: Simulator,
    name: str,
    source: str,
    plugin_toml: str = "",
    host_toml: str = "",
) -> AsyncIterator[Vms]:
    """The plug-in installed, `vms serve` running it; everything ended afterwards."""
    with installed(tmp_path / "dist", name, source) as dist:
        vms = await start_vms(tmp_path, sim, name, plugin_toml, host_toml)
        vms.dist = dist  # type: ignore[attr-defined]
        try:
            yield vms
        finally:
            if vms.process.poll() is None:
                vms.process.kill()
                vms.process.wait()
            await vms.http.close()


async def attack(
    tmp_path: Path,
    sim: Simulator,
    name: str,
    source: str,
    trigger: Trigger,
    *,
    plugin_toml: str = "",
    host_toml: str = "",
    settled: Callable[[dict[str, Any]], bool] | None = None,
) -> Outcome:
    """The common script; returns what happened for the test's own checks."""
    async with hostile_server(tmp_path, sim, name, source, plugin_toml, host_toml) as vms:
        listed = await vms.plugin(name)
        assert listed is not None and listed["state"] == "running", listed
        cameras = [c["id"] for c in await vms.get("/api/cameras")]
        async with vms.http.get(f"{vms.url}/api/plugins/{name}/probe") as r:
            assert r.status == 200, await r.text()
            probe = await r.json()

        # The claim is about the attack: every camera records since before it begins (on a
        # loaded machine the second camera's first segment can come a second late).
        async def recording_a_while() -> bool:
            now = datetime.now(UTC)
            for camera in cameras:
                spans = await vms.get(
                    f"/api/cameras/{camera}/recordings",
                    start=(now - timedelta(minutes=5)).isoformat(),
                    end=now.isoformat(),
                )
                first = spans.get("first_recorded")
                assert first is not None, (camera, "nothing recorded yet")
                since = datetime.fromisoformat(first.replace("Z", "+00:00"))
                assert since <= now - timedelta(seconds=1.5), (camera, first)
            return True

        await eventually(recording_a_while, 30, 0.2, what="every camera recording")
        viewer = Viewer()
        await viewer.watch(vms, cameras[0])
        try:
            began_wall = datetime.now(UTC)
            began = time.monotonic()
            await trigger(vms)
            latencies = await health_latencies(vms, ATTACK_S)
            ended = time.monotonic()

            # Restarted or quarantined, with the reason shown.
            def done(found: dict[str, Any] | None) -> bool:
                assert found is not None
                if settled is not None:
                    return settled(found)
                return found["health"]["restarts"] >= 1 and bool(found["reason"])

            async def reported() -> dict[str, Any] | None:
                found = await vms.plugin(name)
                return found if done(found) else None

            plugin = await eventually(reported, 30, 0.2, what=f"{name} restarted or quarantined")
            pause = viewer.longest_pause(began, ended)
        finally:
            await viewer.close()

        # No recording gap: segments (2 s) cover the attack, once the next ones closed.
        async def covered() -> bool:
            for camera in cameras:
                spans = await vms.get(
                    f"/api/cameras/{camera}/recordings",
                    start=(began_wall - timedelta(seconds=1)).isoformat(),
                    end=(began_wall + timedelta(seconds=ATTACK_S)).isoformat(),
                )
                assert spans["gaps"] == [], (camera, spans)
            return True

        await eventually(covered, 15, 0.5, what="recordings covering the attack")

        # Uninstalled and reloaded: nothing of it still runs.
        runners_before = vms.runners()
        uninstall(vms.dist)  # type: ignore[attr-defined]
        vms.process.send_signal(signal.SIGHUP)

        async def gone() -> bool:
            return await vms.plugin(name) is None

        await eventually(gone, 30, 0.2, what=f"{name} gone after uninstall and reload")
        eventually_sync(
            lambda: not [p for p in runners_before if alive(p)] or None,
            10,
            0.1,
            what="the old runners ended",
        )
        async with vms.http.get(vms.url + "/api/health") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"

        # SIGTERM stops the server, with everything it started.
        runners = vms.runners()
        before = time.monotonic()
        vms.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(vms.process.wait, 3 * SIGTERM_S)  # hang guard
        sigterm_s = time.monotonic() - before
        log = vms.log.read_text(errors="replace")
        assert vms.process.returncode is not None, f"SIGTERM ignored\n{log[-3000:]}"
        assert not [p for p in runners if alive(p)], "a runner outlived the server"

    latencies.sort()
    outcome = Outcome(
        plugin,
        probe,
        latencies[int(0.99 * (len(latencies) - 1))],
        statistics.median(latencies),
        pause,
        sigterm_s,
        log,
    )
    print(
        f"{name}: /api/health p99 {outcome.health_p99_s * 1000:.1f} ms "
        f"(median {outcome.health_median_s * 1000:.1f} ms, {len(latencies)} samples), "
        f"longest live pause {pause:.2f} s, SIGTERM to exit {sigterm_s:.2f} s; "
        f"{plugin['state']}: {plugin['reason']}"
    )
    assert outcome.health_p99_s < HEALTH_P99_S, outcome
    # Typically 0.1-0.3 s between pictures here; a frozen server would be tens of seconds.
    assert pause < LIVE_PAUSE_S, f"live view paused {pause:.2f} s during the attack"
    assert sigterm_s < SIGTERM_S, outcome
    assert_nothing_secret(probe)
    return outcome


def assert_nothing_secret(probe: dict[str, Any]) -> None:
    """Every read of a secret or of another process was refused."""
    assert probe["own folder"] == "mine", probe  # the probe works: it can use its own folder
    for key in ("secret_key", "catalog", "shadow", "victim_folder"):
        assert probe[key] in ("PermissionError", "FileNotFoundError"), (key, probe)
    assert probe["gc"] == "not found", probe
    others = [k for k in probe if k.endswith((" environ", " memory"))]
    assert any(k.startswith("server") for k in others), probe  # the server was tried
    for key in others:
        assert probe[key] in ("PermissionError", "ProcessLookupError", "FileNotFoundError"), (
            key,
            probe,
        )


@pytest.fixture
def no_pytest_cache() -> None:
    """Nothing: hostile tests need no fixture beyond the simulator."""
