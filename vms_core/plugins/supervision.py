"""Limits and restart rules for plug-in runners (``[plugin_host]``), and health counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunnerLimits:
    """What every runner gets unless its ``[plugins.<name>]`` table says otherwise."""

    memory_mb: int = 2048  # address space (RLIMIT_AS); 0: none
    max_tasks: int = 64  # threads (and processes) a runner may have
    heartbeat_seconds: float = 3.0
    max_restarts: int = 3  # restarts in a row before the plug-in is quarantined
    restart_backoff_seconds: float = 1.0
    stable_seconds: float = 60.0  # running this long forgets earlier restarts
    landlock: bool = True
    user: str = "vms-plugin"
    nice: int = 10
    max_cpu_percent: float = 100.0  # of one core over cpu_window_seconds; 0: no limit
    cpu_window_seconds: float = 30.0


@dataclass
class PluginHealth:
    """Counters shown in ``vms plugins list``, ``GET /api/plugins`` and the web client."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    busy: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    healthy: bool = True
    restarts: int = 0
    restarts_in_a_row: int = 0
    last_restart_reason: str | None = None
    pid: int = 0
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    threads: int = 0
    sandbox: list[str] = field(default_factory=list)
    # What the operator should know while it runs (a camera whose frames it skips).
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        data = asdict(self)
        data["last_error_at"] = self.last_error_at.isoformat() if self.last_error_at else None
        data["cpu_seconds"] = round(self.cpu_seconds, 3)
        return data
