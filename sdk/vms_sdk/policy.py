"""How a host calls a plug-in's hooks: one policy for the server and ``PluginTestHost``.

Both hosts call every hook through :class:`HookCaller`, so a plug-in that passes its own
tests meets the same rules in the server:

* each kind of call has a time budget (:class:`CallBudgets`, by hook: :func:`budget_for`);
  a call that runs over is abandoned and fails with ``kind="timeout"``;
* plain (sync) functions run in a thread of the plug-in's own, at most ``max_threads``
  (:data:`MAX_THREADS`) at once; a sync call while all of them are still busy fails at once
  with ``kind="busy"`` (it is not queued);
* coroutine functions run as tasks on the plug-in's event loop;
* :meth:`HookCaller.wait_idle` lets calls already running finish (within the shutdown
  budget) before ``vms_shutdown`` runs: shutdown comes after the calls it would pull the
  rug from.

``VMS_TRACE_PLUGINS=1`` logs every call with its duration (logger ``vms.plugins.trace``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

MAX_THREADS = 2
"""Sync calls of one plug-in in flight at once."""
FAILURE_THRESHOLD = 5
"""Consecutive failed calls after which the server restarts a plug-in
(``[plugin_host] max_consecutive_failures``)."""
TRACE_ENV = "VMS_TRACE_PLUGINS"

FailureKind = Literal["error", "timeout", "busy"]
trace_log = logging.getLogger("vms.plugins.trace")


@dataclass(frozen=True)
class CallBudgets:
    """Seconds each kind of call may take before it is abandoned and counted."""

    load: float = 10.0
    info: float = 2.0
    configure: float = 5.0
    startup: float = 5.0
    shutdown: float = 5.0
    setup: float = 2.0  # vms_routes, vms_*_subscriptions
    event: float = 2.0
    frame: float = 5.0
    audio: float = 5.0
    segment: float = 10.0
    notify: float = 10.0
    http: float = 10.0
    cameras: float = 2.0

    def scaled(self, event_budget: float) -> CallBudgets:
        """Every budget scaled so that an event call gets ``event_budget`` seconds (the
        server's ``[plugin_host] call_timeout_seconds``)."""
        scale = event_budget / self.event
        return CallBudgets(
            **{f.name: getattr(self, f.name) * scale for f in dataclasses.fields(self)}
        )


HOOK_BUDGET = {
    "vms_plugin_info": "info",
    "vms_configure": "configure",
    "vms_startup": "startup",
    "vms_shutdown": "shutdown",
    "vms_routes": "setup",
    "vms_frame_subscriptions": "setup",
    "vms_audio_subscriptions": "setup",
    "vms_on_event": "event",
    "vms_cameras_changed": "cameras",
    "vms_analyze_frame": "frame",
    "vms_analyze_audio": "audio",
    "vms_on_segment_closed": "segment",
    "vms_notify": "notify",
}


def budget_for(budgets: CallBudgets, hook: str) -> float:
    """Seconds a call of ``hook`` may take (a route handler: ``"route ..."``, the HTTP budget)."""
    kind = HOOK_BUDGET.get(hook, "http")
    return float(getattr(budgets, kind))


class CallFailed(Exception):
    """A hook call failed: it raised (``kind="error"``), ran over its budget
    (``"timeout"``), or found every worker thread busy (``"busy"``)."""

    def __init__(self, hook: str, kind: FailureKind, message: str) -> None:
        super().__init__(f"{hook}: {message}")
        self.hook = hook
        self.kind = kind
        self.message = message


def tracing() -> bool:
    """Whether ``VMS_TRACE_PLUGINS`` asks for a log line per call."""
    return os.environ.get(TRACE_ENV, "") not in ("", "0")


class HookCaller:
    """Calls one plug-in's functions under the policy above."""

    def __init__(self, plugin: str, *, max_threads: int = MAX_THREADS) -> None:
        self.plugin = plugin
        self.max_threads = max_threads
        self._threads_in_flight = 0
        # Every call whose code may still run, including abandoned ones (a thread cannot
        # be stopped; a task may ignore its cancellation).
        self._running: dict[asyncio.Future[Any], str] = {}
        self.trace = tracing()

    @property
    def threads_in_flight(self) -> int:
        """Sync calls still running (abandoned ones included)."""
        return self._threads_in_flight

    async def call(
        self,
        hook: str,
        function: Callable[..., Any],
        budget_s: float,
        *args: Any,
        answers: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """``function(*args, **kwargs)`` within ``budget_s`` seconds.

        :param answers: exception types that are the plug-in's answer, not its failure
            (a route's ``HttpError``): re-raised as they are.
        :raises CallFailed: when it raised anything else, overran, or found no free thread.
        """
        started = time.perf_counter()
        deadline = time.monotonic() + budget_s
        outcome = "ok"
        try:
            if inspect.iscoroutinefunction(function):
                return await self._await_within(hook, function(*args, **kwargs), deadline)
            result = await self._run_in_thread(hook, function, args, kwargs, deadline)
            if inspect.isawaitable(result):  # a plain function returning a coroutine
                result = await self._await_within(hook, result, deadline)
            return result
        except CallFailed as failed:
            outcome = failed.kind
            if failed.kind == "timeout":
                failed.message = f"still running after its {budget_s:g} s budget; abandoned"
                failed.args = (f"{hook}: {failed.message}",)
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except answers:
            outcome = "answered"
            raise
        except Exception as exc:
            outcome = "error"
            raise CallFailed(hook, "error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self.trace:
                trace_log.info(
                    "plug-in %s %s: %s in %.2f ms",
                    self.plugin,
                    hook,
                    outcome,
                    (time.perf_counter() - started) * 1000,
                )

    async def wait_idle(self, timeout_s: float) -> list[str]:
        """Wait up to ``timeout_s`` for every call still running (abandoned ones too).

        :return: the hooks still running after that (empty when idle).
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
            raise CallFailed(hook, "timeout", "overran")
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
            raise CallFailed(
                hook, "busy", f"all {self.max_threads} worker threads still busy with earlier calls"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        finished: asyncio.Future[None] = loop.create_future()  # the thread, not the caller
        self._track(hook, finished)

        def settle(ok: bool, value: Any) -> None:
            self._threads_in_flight -= 1
            finished.set_result(None)
            if future.done():  # abandoned: its caller overran or was cancelled
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
            # RuntimeError: the loop closed while this call blocked; nobody is waiting.
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
            raise CallFailed(hook, "timeout", "overran")
        return future.result()


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
