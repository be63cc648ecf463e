"""Discovery scans the API starts and polls, and the Hello/Bye listener of the server."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vms_core.onvif.discovery import (
    DISCOVERY_PORT,
    DiscoveryListener,
    ScanResult,
    scan,
    unicast_targets,
)
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)

# Finished scans kept for GET /api/discovery/scans/{id}.
KEEP_SCANS = 50


@dataclass
class ScanJob:
    id: int
    started_us: int
    request: dict[str, Any]
    finished_us: int | None = None
    result: ScanResult | None = None
    error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        return "running" if self.finished_us is None else "done"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "request": self.request,
            "started": iso(self.started_us),
            "finished": iso(self.finished_us) if self.finished_us else None,
            "error": self.error,
            **(self.result.to_json() if self.result else {"devices": []}),
        }


class DiscoveryScans:
    def __init__(self, listen: bool = True) -> None:
        self.jobs: dict[int, ScanJob] = {}
        self._ids = itertools.count(1)
        self.listen = listen
        self.listener = DiscoveryListener()

    async def start(self) -> None:
        if self.listen:
            await self.listener.start()

    async def stop(self) -> None:
        running = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in running:
            task.cancel()
        if running:
            # wait() neither raises the scans' CancelledError nor swallows our own.
            await asyncio.wait(running)
        await self.listener.stop()

    def announced(self) -> list[dict[str, Any]]:
        """Cameras that said Hello (and not Bye) while the server ran."""
        return [d.to_json() for d in self.listener.devices.values()]

    def begin(
        self,
        *,
        ranges: Sequence[str],
        multicast: bool,
        timeout: float,
        port: int = DISCOVERY_PORT,
    ) -> ScanJob:
        """Start a scan in the background. Raises DiscoveryError for a bad range."""
        unicast_targets(ranges)  # validate now, so the caller hears about a bad range
        job = ScanJob(
            id=next(self._ids),
            started_us=now_us(),
            request={
                "ranges": list(ranges),
                "multicast": multicast,
                "timeout": timeout,
                "port": port,
            },
        )
        job.task = asyncio.create_task(
            self._run(job, ranges, multicast, timeout, port), name=f"discovery-scan-{job.id}"
        )
        self.jobs[job.id] = job
        for old in sorted(self.jobs)[:-KEEP_SCANS]:
            if self.jobs[old].finished_us is not None:
                del self.jobs[old]
        return job

    async def _run(
        self,
        job: ScanJob,
        ranges: Sequence[str],
        multicast: bool,
        timeout: float,  # noqa: ASYNC109 - the scan's listening time
        port: int,
    ) -> None:
        try:
            job.result = await scan(multicast=multicast, targets=ranges, port=port, timeout=timeout)
        except Exception as err:
            log.warning("discovery scan %d failed: %s", job.id, err)
            job.error = str(err) or type(err).__name__
        finally:
            job.finished_us = now_us()
