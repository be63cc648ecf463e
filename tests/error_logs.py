"""Fail the run on ERROR log records nobody expected.

An ERROR (or CRITICAL) record, or an exception nobody retrieved, that the suite prints
without failing is a bug: in the server, or in a test that provoked it without saying so.
Every such record fails the test during which it was logged; one logged between tests (a
module fixture's teardown, a thread outliving its test) fails the run at the end.

Ways to accept an error record:
- a test that provokes one on purpose is marked
  ``@pytest.mark.allow_error_logs("message pattern", reason="why")`` (or calls the
  ``allow_error_logs`` fixture the same way, for a pattern known only at run time);
- ``ALLOWED`` below lists records the suite cannot avoid, each with its reason.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Allowed:
    logger: str  # regular expression on the logger's name
    message: str  # regular expression searched in the formatted message
    reason: str

    def matches(self, record: logging.LogRecord) -> bool:
        return bool(re.search(self.logger, record.name) and re.search(self.message, _text(record)))


# Marks for errors several tests provoke on purpose.
PLUGINS_MADE_UNHEALTHY = pytest.mark.allow_error_logs(
    "is unhealthy after", reason="the bad plug-ins fail on purpose until they are unhealthy"
)
PLUGINS_REFUSED = pytest.mark.allow_error_logs(
    r"plug-in \S+ \(.*\) refused", reason="refusing a broken plug-in is what the test checks"
)

# Records no test can avoid. Each says why; keep this list short.
ALLOWED: list[Allowed] = []


def _text(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a record with bad arguments is still an error to show
        return str(record.msg)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()
        self.allowed_now: list[Allowed] = []

    def emit(self, record: logging.LogRecord) -> None:
        if any(a.matches(record) for a in (*ALLOWED, *self.allowed_now)):
            return
        with self._lock_records:
            self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock_records:
            taken, self.records = self.records, []
        return taken


_COLLECTOR = _Collector()


def _describe(records: list[logging.LogRecord]) -> str:
    lines = []
    for record in records:
        lines.append(f"{record.levelname} {record.name}: {_text(record)}")
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            lines.append(f"    {type(error).__name__}: {error}")
    return "\n".join(lines)


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_COLLECTOR)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_COLLECTOR)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("allow_error_logs"):
        (pattern,) = mark.args
        reason = mark.kwargs.get("reason")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: allow_error_logs needs a reason=")
        _COLLECTOR.allowed_now.append(Allowed(mark.kwargs.get("logger", "."), pattern, reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each phase (setup, call, teardown, module fixtures' teardown included) fails when an
    unexpected ERROR record was logged during it."""
    report: pytest.TestReport = yield
    unexpected = _COLLECTOR.take()
    if call.when == "teardown":
        _COLLECTOR.allowed_now = []
    if unexpected and not report.failed:
        report.outcome = "failed"
        where = "before this test started" if call.when == "setup" else f"during {call.when}"
        report.longrepr = (
            f"unexpected ERROR log records {where} (fix the cause, or allow them with the "
            "allow_error_logs fixture and a reason):\n" + _describe(unexpected)
        )
    return report


@pytest.fixture
def allow_error_logs() -> Callable[..., None]:
    """``allow_error_logs(message_pattern, reason=..., logger=".")``: this test provokes
    ERROR records matching the pattern on purpose; they do not fail it."""

    def allow(message: str, *, reason: str, logger: str = ".") -> None:
        _COLLECTOR.allowed_now.append(Allowed(logger, message, reason))

    return allow


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    late = _COLLECTOR.take()  # after the last test: session fixtures' teardown
    if late:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("ERROR log records after the last test:\n" + _describe(late))
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
