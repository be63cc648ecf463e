"""What every fuzz test shares: reproducible, bounded Hypothesis settings, and a hang guard
that interrupts one input's parsing if it runs away.

Hypothesis's own ``deadline`` only judges an input after it returns, so an endless loop
(a camera's ``Content-Length: -76`` once made one) would hang the suite; ``time_bound``
raises inside the loop instead. It borrows SIGALRM from pytest-timeout for the duration
and gives it back with the time that remained.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from hypothesis import HealthCheck, settings

# Typical parse of one input: well under a millisecond. The guard is a hang guard.
PER_INPUT_SECONDS = 1.0


def fuzz_settings(max_examples: int) -> settings:
    """Same inputs on every run (CI reproducible), no example database on disk, no timing
    goal (``deadline``): ``time_bound`` is the per-input bound."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


class Hang(AssertionError):
    """One input took longer than its bound."""


@contextmanager
def time_bound(what: str, seconds: float = PER_INPUT_SECONDS) -> Iterator[None]:
    """Raise ``Hang`` inside the block if it runs longer than ``seconds`` (main thread)."""

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"{what} took over {seconds:g} s on one input")

    previous = signal.signal(signal.SIGALRM, expired)
    outer, _interval = signal.getitimer(signal.ITIMER_REAL)
    began = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # pytest-timeout's alarm, less the time spent here
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer - (time.monotonic() - began)))


class ErrorRecords(logging.Handler):
    """Collects ERROR records from every logger and thread while installed (``caplog`` is
    a function-scoped fixture, which Hypothesis examples must not share)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> ErrorRecords:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        logging.getLogger().removeHandler(self)
