"""``RunnerProcess``: one plug-in's runner as a child process, seen from the server.

It starts ``python -m vms_sdk.runtime.runner`` with the RPC and descriptor sockets, the
plug-in's private working folder (and, for a folder plug-in, its folder) as the only
inherited descriptors, a minimal environment, and, when the server runs as root, the
plug-in user's identity (:mod:`vms_core.plugins.identity`). It pings the runner every
second (a runner whose event loop is blocked misses it), samples its CPU time, memory and
threads from ``/proc``, and ends it with everything it started (the runner is a child
subreaper: what the plug-in starts stays below it).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from vms_sdk.runtime.channel import Channel, ChannelClosed
from vms_sdk.runtime.protocol import PROTOCOL_VERSION, Codec, ErrorBody, Hello, Ping, ToServer
from vms_sdk.runtime.runner import RunnerSpec
from vms_sdk.runtime.sandbox import SandboxSpec

from vms_core.plugins.identity import RunnerIdentity

log = logging.getLogger("vms.plugins")

HEARTBEAT_SECONDS = 1.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class RunnerStats:
    """What ``/proc`` says about a runner (and what it started)."""

    pid: int = 0
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    threads: int = 0


@dataclass(frozen=True)
class RunnerLaunch:
    """Everything needed to start one runner."""

    plugin: str
    work_dir: Path
    folder: Path | None
    identity: RunnerIdentity
    sandbox: SandboxSpec
    budgets: dict[str, float]
    max_threads: int
    max_tasks: int  # threads the runner may have before it is ended
    heartbeat_timeout: float
    max_cpu_percent: float = 0.0  # of one core, averaged over cpu_window; 0: no limit
    cpu_window: float = 30.0


Handler = Callable[[Any], Awaitable[Any]]
NoteHandler = Callable[[Any], None]
Failure = Callable[[str], None]


class RunnerProcess:
    """One runner process and its channel."""

    def __init__(
        self,
        launch: RunnerLaunch,
        on_request: Handler,
        on_note: NoteHandler,
        on_failure: Failure,
        error_of: Callable[[BaseException], ErrorBody],
    ) -> None:
        self.launch = launch
        self._error_of = error_of
        self._on_request = on_request
        self._on_note = on_note
        self._on_failure = on_failure
        self.hello: Hello | None = None
        self.channel: Channel | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.fd_socket: socket.socket | None = None
        self.stats = RunnerStats()
        self._hello = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._stderr: asyncio.Task[None] | None = None
        self._ending = False
        self._last_error = ""

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    async def start(self, within: float) -> Hello:
        """Start the runner and wait for its hello.

        :raises RuntimeError: it did not start or speaks another protocol.
        """
        launch = self.launch
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd_ours, fd_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        work_fd = os.open(launch.work_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        folder_fd = (
            os.open(launch.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            if launch.folder is not None
            else -1
        )
        inherited = [theirs.fileno(), fd_theirs.fileno(), work_fd]
        if folder_fd >= 0:
            inherited.append(folder_fd)
        spec = RunnerSpec(
            channel_fd=theirs.fileno(),
            fd_socket_fd=fd_theirs.fileno(),
            work_fd=work_fd,
            folder_fd=folder_fd,
            max_threads=launch.max_threads,
            budgets=launch.budgets,
            sandbox=launch.sandbox,
            log_level=logging.getLogger(f"vms.plugins.{launch.plugin}").getEffectiveLevel(),
        )
        try:
            self.process = await asyncio.create_subprocess_exec(
                # At a lower priority from the start: its interpreter's start-up competes
                # with the server's requests too.
                *(["nice", "-n", str(launch.sandbox.nice)] if launch.sandbox.nice else []),
                sys.executable,
                "-m",
                "vms_sdk.runtime.runner",
                msgspec.json.encode(spec).decode(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=inherited,
                env=runner_environment(),
                start_new_session=True,
                cwd="/",
                **launch.identity.subprocess_args(),
            )
        finally:
            theirs.close()
            fd_theirs.close()
            os.close(work_fd)
            if folder_fd >= 0:
                os.close(folder_fd)
        self.fd_socket = fd_ours
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        self.channel = Channel(
            reader, writer, Codec(ToServer), self._on_request, self._note, error_of=self._error_of
        )
        self.channel.start()
        self._stderr = asyncio.create_task(self._log_stderr(), name=f"vms-runner-err-{self.pid}")
        hello = asyncio.ensure_future(self._hello.wait())
        exited = asyncio.ensure_future(self.process.wait())
        try:
            await asyncio.wait({hello, exited}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is stopping: the runner must not stay
            await asyncio.shield(self.kill())
            raise
        finally:
            hello.cancel()
            exited.cancel()
        if not self._hello.is_set():
            await self.kill()
            if self.process.returncode is not None and self._last_error:
                raise RuntimeError(f"the runner failed: {self._last_error}")
            raise RuntimeError(f"the runner did not start within {within:g} s")
        assert self.hello is not None
        if self.hello.protocol != PROTOCOL_VERSION:
            await self.kill()
            raise RuntimeError(
                f"runner speaks protocol {self.hello.protocol}, the server {PROTOCOL_VERSION}"
            )
        self.stats.pid = self.pid
        self._watch = asyncio.create_task(self._watch_forever(), name=f"vms-runner-{self.pid}")
        return self.hello

    def _note(self, body: Any) -> None:
        if isinstance(body, Hello):
            self.hello = body
            self._hello.set()
            return
        self._on_note(body)

    async def request(self, body: Any, result: Any, within: float) -> Any:
        if self.channel is None:
            raise ChannelClosed("not started")
        return await self.channel.request(body, result, within)

    def note(self, body: Any) -> None:
        if self.channel is not None:
            self.channel.note(body)

    @property
    def alive(self) -> bool:
        return (
            self.process is not None
            and self.process.returncode is None
            and self.channel is not None
            and not self.channel.closed.is_set()
        )

    async def _log_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        lines = 0
        while line := await self.process.stderr.readline():
            lines += 1
            text = line.decode(errors="replace").strip()
            if text and not text.startswith(("Traceback", "File ", "^", "~")):
                self._last_error = text[:300]
            if lines <= 50:  # a runner that floods stderr is cut short
                log.warning("plug-in %s runner: %s", self.launch.plugin, text)

    async def _watch_forever(self) -> None:
        """Heartbeat and limits, once a second, until the runner ends."""
        assert self.channel is not None
        missed_since: float | None = None
        cpu_history: collections.deque[tuple[float, float]] = collections.deque()
        while not self._ending:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if self._ending:
                return
            if not self.alive:
                code = self.process.returncode if self.process else None
                self._fail(f"its runner exited ({self.channel.close_reason}, code {code})")
                return
            # /proc is read in a thread: a few hundred small files is not loop work.
            self.stats = await asyncio.to_thread(self.sample)
            if self.stats.threads > self.launch.max_tasks:
                self._fail(
                    f"it started {self.stats.threads} threads, over its limit of "
                    f"{self.launch.max_tasks}"
                )
                return
            busy = self._cpu_over_limit(cpu_history)
            if busy:
                self._fail(busy)
                return
            try:
                await self.channel.request(Ping(), None, within=self.launch.heartbeat_timeout)
            except TimeoutError:
                missed_since = missed_since or time.monotonic()
            except ChannelClosed:
                continue  # seen as exited on the next round
            except Exception:  # answered with an error: it is alive
                missed_since = None
            else:
                missed_since = None
            if missed_since is not None:
                self._fail(
                    f"it missed its heartbeat for {self.launch.heartbeat_timeout:g} s "
                    "(its event loop is blocked)"
                )
                return

    def _cpu_over_limit(self, history: collections.deque[tuple[float, float]]) -> str:
        """Why the runner used too much CPU over the last window ("" when it did not)."""
        limit, window = self.launch.max_cpu_percent, self.launch.cpu_window
        now = time.monotonic()
        history.append((now, self.stats.cpu_seconds))
        while len(history) > 1 and now - history[1][0] >= window:
            history.popleft()
        start, cpu_then = history[0]
        if limit <= 0 or now - start < window:
            return ""
        percent = 100 * (self.stats.cpu_seconds - cpu_then) / (now - start)
        if percent <= limit:
            return ""
        return (
            f"it used {percent:.0f} % of a core over {now - start:.0f} s (its limit is {limit:g} %)"
        )

    def _fail(self, reason: str) -> None:
        if not self._ending:
            self._on_failure(reason)

    def sample(self) -> RunnerStats:
        """CPU time, memory and threads of the runner and what it started, from /proc."""
        pids = [self.pid, *descendants(self.pid)]
        cpu = 0.0
        rss = 0
        threads = 0
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / _CLK_TCK
                threads += int(fields[17])
                rss += int(fields[21]) * _PAGE
            except (OSError, IndexError, ValueError):
                continue
        return RunnerStats(self.pid, max(cpu, self.stats.cpu_seconds), rss, threads)

    async def stop(self, grace: float = 1.0) -> None:
        """Close the channel, give the runner ``grace`` seconds to exit, then end it all."""
        self._ending = True
        if self.channel is not None:
            await self.channel.close()
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self.process.wait()
        await self.kill()

    async def kill(self) -> None:
        """End the runner and everything it started, at once."""
        self._ending = True
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        if self.process is not None:
            below = await asyncio.to_thread(descendants, self.process.pid)
            for pid in [*below, self.process.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        if self.channel is not None:
            await self.channel.close()
        if self._stderr is not None:
            # wait() neither raises the reader's CancelledError nor swallows our own.
            await asyncio.wait([self._stderr])
            if not self._stderr.cancelled():
                self._stderr.result()
        if self.process is not None:
            # asyncio closes a subprocess transport only once it noticed the exit; closed
            # here, it cannot outlive its loop and complain when collected.
            transport = getattr(self.process, "_transport", None)
            if transport is not None:
                transport.close()
        if self.fd_socket is not None:
            self.fd_socket.close()
            self.fd_socket = None


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def runner_environment() -> dict[str, str]:
    """The runner's environment: nothing of the server's but what Python needs."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": "/proc/self/cwd",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MALLOC_ARENA_MAX": "2",  # glibc's per-thread arenas would eat the address space
    }
    for name in ("PYTHONPATH", "TZ", "VMS_TRACE_PLUGINS", "LC_ALL"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env
