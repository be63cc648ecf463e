"""A real vms server with simulated cameras, for a plug-in's end-to-end tests.

:class:`VmsTestServer` starts simulated ONVIF cameras (``vms simulate``) and a server
(``vms serve``) as processes of their own, on loopback, with your installed plug-in (or
plug-in folders) allowed and granted what you say, and logs in as the administrator::

    from vms_sdk.testing.server import VmsTestServer

    async def test_my_plugin_end_to_end():
        grants = {"shotalert": ["events", "bookmarks", "public_routes"]}
        async with VmsTestServer(["shotalert"], grants=grants, cameras=2) as vms:
            assert (await vms.plugin("shotalert"))["state"] == "running"
            status, body = await vms.request("POST", "/api/plugins/shotalert/alerts", json=...)

Needs the server installed (``pip install vms-sdk[testing]``); the test itself only
imports the SDK. Everything is stopped (SIGTERM) when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

STARTUP_SECONDS = 60.0  # a hang guard: a first start encodes the cameras' media loops


@dataclass(frozen=True)
class SimulatedCamera:
    """One simulated camera as the server is told about it."""

    name: str
    rtsp_main_url: str
    rtsp_sub_url: str
    username: str
    password: str


class VmsTestServer:
    """`vms serve` with simulated cameras; an ``async with`` block.

    :param plugins: names of the plug-ins to load (the server's ``VMS_PLUGINS``).
    :param grants: capabilities to grant each plug-in, by name.
    :param settings: each plug-in's settings table, by name.
    :param cameras: simulated cameras to add (recorded unless ``record=False``).
    :param plugin_dirs: plug-in folders besides installed distributions.
    :param config: more TOML for ``vms.toml``.
    :param workdir: where the configuration, data and logs go (default: a new temporary
        folder, removed afterwards).
    :param media_cache: where the simulated cameras keep their encoded video (kept
        between runs: the first start encodes it, which takes a while).
    """

    def __init__(
        self,
        plugins: Iterable[str],
        *,
        grants: Mapping[str, Iterable[str]] | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        cameras: int = 1,
        plugin_dirs: Iterable[str | os.PathLike[str]] = (),
        config: str = "",
        workdir: str | os.PathLike[str] | None = None,
        media_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        self.plugins = list(plugins)
        self._grants = {k: list(v) for k, v in (grants or {}).items()}
        self._settings = {k: dict(v) for k, v in (settings or {}).items()}
        self._camera_count = cameras
        self._plugin_dirs = [Path(d).resolve() for d in plugin_dirs]
        self._config = config
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vms-test-server-"))
        default_cache = Path(tempfile.gettempdir()) / "vms-test-server-media"
        self._media_cache = Path(media_cache) if media_cache is not None else default_cache
        self.url = ""
        self.cameras: list[SimulatedCamera] = []
        self.http: aiohttp.ClientSession | None = None
        self._simulator: asyncio.subprocess.Process | None = None
        self._server: asyncio.subprocess.Process | None = None

    @property
    def log(self) -> str:
        """The server's output so far."""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def __aenter__(self) -> VmsTestServer:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start(self) -> None:
        vms = os.path.join(os.path.dirname(sys.executable), "vms")
        if not os.access(vms, os.X_OK):
            raise RuntimeError("the vms server is not installed: pip install vms-sdk[testing]")
        self._simulator = await asyncio.create_subprocess_exec(
            vms,
            "simulate",
            "--cameras",
            str(self._camera_count),
            "--json",
            "--cache-dir",
            str(self._media_cache),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self._simulator.stdout is not None
        async with asyncio.timeout(STARTUP_SECONDS):
            for _ in range(self._camera_count):
                line = json.loads(await self._simulator.stdout.readline())
                self.cameras.append(
                    SimulatedCamera(
                        line["name"],
                        line["rtsp_main_url"],
                        line["rtsp_sub_url"],
                        line["username"],
                        line["password"],
                    )
                )
        config = self.workdir / "vms.toml"
        config.write_text(self._toml())
        env = {**os.environ, "VMS_PLUGINS": ",".join(self.plugins)}
        log = os.open(self.workdir / "server.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self._server = await asyncio.create_subprocess_exec(
                vms, "serve", "--config", str(config), stdout=log, stderr=log, env=env
            )
        finally:
            os.close(log)
        password = await self._wait_listening()
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        status, body = await self.request(
            "POST", "/api/auth/login", json={"username": "admin", "password": password}
        )
        if status != 200:
            raise RuntimeError(f"cannot log in: {status} {body}")

    def _toml(self) -> str:
        lines = [
            "[server]",
            'host = "127.0.0.1"',
            "port = 0",
            'data_dir = "data"',
            "[storage]",
            'recordings_dir = "recordings"',
            "[plugin_host]",
            f"dirs = {json.dumps([str(d) for d in self._plugin_dirs])}",
        ]
        for camera in self.cameras:
            lines += [
                "[[cameras]]",
                f"name = {json.dumps(camera.name)}",
                f"rtsp_url = {json.dumps(camera.rtsp_main_url)}",
                f"sub_rtsp_url = {json.dumps(camera.rtsp_sub_url)}",
                f"username = {json.dumps(camera.username)}",
                f"password = {json.dumps(camera.password)}",
            ]
        for name in sorted(set(self._grants) | set(self._settings)):
            lines.append(f"[plugins.{name}]")
            if name in self._grants:
                lines.append(f"grant = {json.dumps(self._grants[name])}")
            for key, value in self._settings.get(name, {}).items():
                lines.append(f"{key} = {json.dumps(value)}")
        return "\n".join(lines) + "\n" + self._config

    async def _wait_listening(self) -> str:
        assert self._server is not None
        async with asyncio.timeout(STARTUP_SECONDS):
            while True:
                if self._server.returncode is not None:
                    raise RuntimeError(f"vms serve exited:\n{self.log[-3000:]}")
                url = password = ""
                for line in self.log.splitlines():
                    if " listening on " in line:
                        url = line.rsplit(" ", 1)[1]
                    if "created user admin with password " in line:
                        password = line.split("with password ", 1)[1].split()[0]
                if url and password:
                    self.url = url
                    return password
                await asyncio.sleep(0.1)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """``method`` ``path`` (``/api/...``) as the administrator: status and JSON body
        (text when the body is not JSON)."""
        assert self.http is not None, "not started"
        async with self.http.request(method, self.url + path, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:
                return response.status, text

    async def plugin(self, name: str) -> dict[str, Any] | None:
        """The server's report on plug-in ``name`` (``GET /api/plugins``)."""
        status, plugins = await self.request("GET", "/api/plugins")
        if status != 200:
            raise RuntimeError(f"GET /api/plugins: {status} {plugins}")
        return next((p for p in plugins if p["name"] == name), None)

    async def stop(self) -> None:
        """Stop the server (SIGTERM) and the cameras; remove a temporary workdir."""
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self._server is not None and self._server.returncode is None:
            self._server.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self._server.wait()
            except TimeoutError:
                self._server.kill()
                await self._server.wait()
        if self._simulator is not None and self._simulator.returncode is None:
            self._simulator.terminate()
            with contextlib.suppress(ProcessLookupError):
                await self._simulator.wait()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
