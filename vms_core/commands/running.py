"""Running a server in the foreground: start, say where it listens, serve until SIGINT or
SIGTERM, stop cleanly; SIGHUP reloads the configuration."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

from vms_core.config import ConfigError, Settings
from vms_core.reload import ReloadReport

log = logging.getLogger("vms")


class Runnable(Protocol):
    """What running needs of a server (``vms_core.server.VmsServer``)."""

    settings: Settings
    url: str
    version: str
    initial_admin_password: str | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def reload_config(self, username: str = "system") -> ReloadReport: ...


def first_start_box(url: str, password: str) -> str:
    """The first admin password, framed so it stands out from the log around it."""
    lines = [
        f"Open {url} and sign in:",
        "",
        f"created user admin with password {password}",
        "",
        "It is shown only this once. Change it in the web client (your name, top right),",
        "and add users there (Admin > Users) or with `vms users add`.",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


async def run_until_signalled(
    server: Runnable,
    before_stop: Callable[[], object] | None = None,
    after_start: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Start ``server``, print where it listens, serve until SIGINT/SIGTERM, stop cleanly.
    SIGHUP reloads the configuration."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            report = await server.reload_config()
            log.info("configuration reloaded: %s", report.summary())
        except ConfigError as exc:
            log.error("configuration not reloaded:\n%s", exc.report())

    def on_hup() -> None:
        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await server.start()
    except OSError as exc:
        print(
            f"vms: cannot listen on {server.settings.server.host}:"
            f"{server.settings.server.port}: {exc.strerror}",
            file=sys.stderr,
        )
        await server.stop()
        return 1
    if after_start is not None:
        await after_start()
    print(f"vms {server.version} listening on {server.url}", flush=True)
    if server.initial_admin_password:
        # Last, and framed: a first start logs plenty before it is ready.
        print(first_start_box(server.url, server.initial_admin_password), flush=True)
    await stop.wait()
    log.info("shutting down")
    if before_stop is not None:
        result = before_stop()
        if asyncio.iscoroutine(result):
            await result
    await server.stop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.remove_signal_handler(sig)
    return 0
