"""The plug-in runner: a process that holds one plug-in.

Started by the server as ``python -m vms_sdk.runtime.runner <spec>``, with the RPC
socket, the descriptor socket, its working folder and (for folder plug-ins) the plug-in's
folder as inherited descriptors. It sandboxes itself (:mod:`vms_sdk.runtime.sandbox`)
before any plug-in code runs, says hello, and then answers the server's requests until
the connection closes. Logging goes to the server. A plug-in that runs out of memory
ends the runner with the reason; the server restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import msgspec

from vms_sdk.policy import CallBudgets
from vms_sdk.runtime import sandbox
from vms_sdk.runtime.channel import Channel
from vms_sdk.runtime.core import PluginRuntime, error_body
from vms_sdk.runtime.framemem import RunnerFrameMemory
from vms_sdk.runtime.protocol import (
    PROTOCOL_VERSION,
    Codec,
    ErrorBody,
    Fatal,
    Hello,
    LogLine,
    Refused,
    ToRunner,
)

EXIT_MEMORY = 3
MAX_LOG_LINES_PER_SECOND = 200


class RunnerSpec(msgspec.Struct):
    channel_fd: int
    fd_socket_fd: int
    work_fd: int
    folder_fd: int = -1
    max_threads: int = 2
    budgets: dict[str, float] = msgspec.field(default_factory=dict)
    sandbox: sandbox.SandboxSpec = msgspec.field(default_factory=sandbox.SandboxSpec)
    log_level: int = logging.INFO


class _ServerLogHandler(logging.Handler):
    """Sends log records to the server, at most a few hundred a second (a plug-in that
    floods its log loses lines, the server does not)."""

    def __init__(self, channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._channel = channel
        self._loop = loop
        self._second = 0
        self._count = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = int(record.created)
        if now != self._second:
            self._second, self._count = now, 0
        self._count += 1
        if self._count > MAX_LOG_LINES_PER_SECOND:
            return
        try:
            text = self.format(record)
            line = LogLine(record.levelno, record.name, text)
            self._loop.call_soon_threadsafe(self._channel.note, line)
        except RuntimeError:  # the loop is closed
            pass


def _network_guard(channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
    """Refuse outbound connections with a clear error (Landlock enforces it underneath)."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "socket.connect" or len(args) < 2:
            return
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) == socket.AF_UNIX:
            return
        what = f"connect to {address!r}"
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(channel.note, Refused("network", what))
        raise PermissionError(
            f"this plug-in may not {what}: capability 'network' is not granted "
            "(the operator adds it to [plugins.<name>] grant)"
        )

    sys.addaudithook(hook)


async def serve(spec: RunnerSpec, read_paths: list[str], landlock_abi: int) -> int:
    loop = asyncio.get_running_loop()
    sock = socket.socket(fileno=spec.channel_fd)
    fd_socket = socket.socket(fileno=spec.fd_socket_fd) if spec.fd_socket_fd >= 0 else None
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    frames = RunnerFrameMemory(fd_socket)
    folder = Path(f"/proc/self/fd/{spec.folder_fd}") if spec.folder_fd >= 0 else None
    cwd = Path(os.getcwd())
    # Through the working folder's own path when this user can reach it, else through
    # the descriptor the server opened for us (its parents are not ours to cross).
    data_dir = cwd if os.access(cwd, os.W_OK | os.X_OK) else Path("/proc/self/cwd")
    budgets = CallBudgets(**spec.budgets)
    exit_code = 0

    class Link:
        async def request(self, body: Any, result: Any) -> Any:
            return await channel.request(body, result, within=budgets.http)

        def note(self, body: Any) -> None:
            channel.note(body)

    runtime = PluginRuntime(
        Link(),
        budgets=budgets,
        max_threads=spec.max_threads,
        data_dir=data_dir,
        frames=frames,
        folder=folder,
    )

    def on_error(exc: BaseException) -> ErrorBody:
        nonlocal exit_code
        body = error_body(exc)
        if body.kind == "memory":
            exit_code = EXIT_MEMORY
            channel.note(Fatal("memory", body.message))
            loop.call_soon(stop.set)
        return body

    def on_note(body: Any) -> None:
        if not frames.on_note(body):
            runtime.on_note(body)

    stop = asyncio.Event()
    channel = Channel(reader, writer, Codec(ToRunner), runtime.handle, on_note, error_of=on_error)
    channel.start()
    handler = _ServerLogHandler(channel, loop)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(spec.log_level)
    if not spec.sandbox.network:
        _network_guard(channel, loop)
    user = str(os.getuid())
    features = [f"uid {user}", f"landlock abi {landlock_abi}" if landlock_abi else "no landlock"]
    if spec.sandbox.memory_bytes:
        features.append(f"address space {spec.sandbox.memory_bytes // 2**20} MB")
    channel.note(Hello(PROTOCOL_VERSION, os.getpid(), _sdk_version(), user, features))
    closed = asyncio.ensure_future(channel.closed.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
    await channel.drain()
    return exit_code


def _sdk_version() -> str:
    import vms_sdk

    return str(vms_sdk.__version__)


def main(argv: list[str]) -> int:
    spec = msgspec.json.decode(argv[1].encode(), type=RunnerSpec)
    sandbox.harden_process()
    os.fchdir(spec.work_fd)
    read = sandbox.python_paths()
    abi = 0
    if spec.sandbox.landlock:
        read_fds = [spec.folder_fd] if spec.folder_fd >= 0 else []
        abi = sandbox.landlock(spec.sandbox, read=read, read_fds=read_fds, write_fds=[spec.work_fd])
    os.close(spec.work_fd)
    os.environ["TMPDIR"] = str(Path("/proc/self/cwd/tmp"))
    with contextlib.suppress(OSError):
        os.mkdir("tmp", 0o700)
    sandbox.apply_limits(spec.sandbox)
    try:
        return asyncio.run(serve(spec, read, abi))
    except MemoryError:
        return EXIT_MEMORY


if __name__ == "__main__":
    sys.exit(main(sys.argv))
