"""Calling one plug-in's code without letting it hurt the server.

Each call gets a time budget. Plain functions run in a fresh daemon thread (at most
``max_threads`` in flight per plug-in, so a plug-in that blocks its threads only
starves itself, and a thread stuck forever cannot hold up process exit); coroutine
functions run as tasks on the loop. A raise or an overrun is logged with the
plug-in's name and counted; after ``failure_threshold`` consecutive failures the
plug-in is unhealthy and the manager stops calling it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from vms_sdk import ConfigError, utc_now

log = logging.getLogger("vms.plugins")


class PluginCallError(Exception):
    """A plug-in call failed: it raised, overran its budget, or the plug-in was busy."""

    def __init__(self, plugin: str, hook: str, message: str, *, timed_out: bool) -> None:
        super().__init__(f"plug-in {plugin!r} {hook}: {message}")
        self.plugin = plugin
        self.hook = hook
        self.timed_out = timed_out


@dataclass
class PluginHealth:
    """Counters shown in ``vms plugins`` and the API."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    healthy: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        data = asdict(self)
        data["last_error_at"] = self.last_error_at.isoformat() if self.last_error_at else None
        return data


class PluginRunner:
    """Runs one plug-in's functions under budgets and keeps its health."""

    def __init__(self, plugin: str, *, max_threads: int = 2, failure_threshold: int = 3) -> None:
        self.plugin = plugin
        self.max_threads = max_threads
        self.failure_threshold = failure_threshold
        self.health = PluginHealth()
        self._threads_in_flight = 0
        # Every call whose code may still be running, including those the caller gave up on
        # (overrun): a thread cannot be stopped, and a task may ignore its cancellation.
        self._running: dict[asyncio.Future[Any], str] = {}

    async def call(
        self,
        hook: str,
        function: Callable[..., Any],
        budget_s: float,
        *args: Any,
        answers: tuple[type[Exception], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """Call ``function(*args, **kwargs)`` within ``budget_s`` seconds.

        :param answers: exception types that are the plug-in's answer rather than its
            failure (a route's ``HttpError``): re-raised as they are, not counted.
        :return: its result (awaited when it is awaitable).
        :raises PluginCallError: when it raised, overran, or all threads were busy.
        """
        self.health.calls += 1
        deadline = time.monotonic() + budget_s
        try:
            if inspect.iscoroutinefunction(function):
                result = await self._await_within(hook, function(*args, **kwargs), deadline)
            else:
                result = await self._run_in_thread(hook, function, args, kwargs, deadline)
                if inspect.isawaitable(result):  # a plain function returning a coroutine
                    result = await self._await_within(hook, result, deadline)
        except _Overrun as overrun:
            message = overrun.reason or f"still running after its {budget_s:g} s budget; abandoned"
            self._failed(hook, message, timed_out=True)
            raise PluginCallError(self.plugin, hook, message, timed_out=True) from None
        except asyncio.CancelledError:
            raise
        except answers:
            self.health.consecutive_failures = 0
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self._failed(hook, message, timed_out=False, exc=exc)
            raise PluginCallError(self.plugin, hook, message, timed_out=False) from exc
        self.health.consecutive_failures = 0
        return result

    def reset(self) -> None:
        """Forget failures (after a reload)."""
        self.health = PluginHealth()

    async def wait_idle(self, timeout_s: float) -> list[str]:
        """Wait up to ``timeout_s`` for every call still running to finish, including
        calls abandoned after their budget.

        :return: the hooks of the calls still running after that (empty when idle).
        """
        pending = set(self._running)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        return sorted(hook for future, hook in self._running.items() if not future.done())

    def _track(self, hook: str, finished: asyncio.Future[Any]) -> None:
        self._running[finished] = hook
        finished.add_done_callback(self._untrack)

    def _untrack(self, finished: asyncio.Future[Any]) -> None:
        self._running.pop(finished, None)

    async def _await_within(self, hook: str, awaitable: Any, deadline: float) -> Any:
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._track(hook, task)
        try:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            # Cancel but do not wait: a coroutine that swallows cancellation must not hang us.
            task.cancel()
            task.add_done_callback(_consume_result)
            raise _Overrun(None)
        return task.result()

    async def _run_in_thread(
        self,
        hook: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float,
    ) -> Any:
        if self._threads_in_flight >= self.max_threads:
            raise _Overrun(f"all {self.max_threads} worker threads still busy with earlier calls")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        finished: asyncio.Future[None] = loop.create_future()  # the thread, not the caller
        self._track(hook, finished)

        def settle(ok: bool, value: Any) -> None:
            self._threads_in_flight -= 1
            finished.set_result(None)
            if future.done():  # abandoned: its caller overran or was cancelled
                if not ok:
                    log.warning(
                        "plug-in %s: %s, abandoned earlier, ended with %s: %s",
                        self.plugin,
                        hook,
                        type(value).__name__,
                        value,
                    )
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def work() -> None:
            try:
                outcome = (True, function(*args, **kwargs))
            except Exception as exc:  # reported on the loop, never lost in the thread
                outcome = (False, exc)
            except BaseException as exc:  # SystemExit & co. must not escape into the loop
                outcome = (False, RuntimeError(f"{type(exc).__name__}: {exc}"))
            # RuntimeError: the loop closed while this plug-in blocked; nobody is waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, *outcome)

        self._threads_in_flight += 1
        thread = threading.Thread(target=work, name=f"vms-plugin-{self.plugin}", daemon=True)
        thread.start()
        try:
            done, _ = await asyncio.wait({future}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:
            future.cancel()
            raise
        if not done:
            future.cancel()
            raise _Overrun(None)
        return future.result()

    def _failed(
        self, hook: str, message: str, *, timed_out: bool, exc: BaseException | None = None
    ) -> None:
        health = self.health
        if timed_out:
            health.timeouts += 1
        else:
            health.errors += 1
        health.consecutive_failures += 1
        health.last_error = f"{hook}: {message}"
        health.last_error_at = utc_now()
        # A ConfigError is a message for the operator, not a bug: no traceback.
        trace = None if isinstance(exc, ConfigError) else exc
        log.warning("plug-in %s: %s failed: %s", self.plugin, hook, message, exc_info=trace)
        if health.healthy and health.consecutive_failures >= self.failure_threshold:
            health.healthy = False
            log.error(
                "plug-in %s is unhealthy after %d consecutive failures; "
                "it will not be called again until it is reloaded",
                self.plugin,
                health.consecutive_failures,
            )


class _Overrun(Exception):
    """The call did not finish in time; ``reason`` overrides the default message."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
