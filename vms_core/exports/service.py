"""Export jobs: queued, built one at a time in a thread, kept on disk.

Each job lives in ``<data dir>/exports/<id>/``: ``job.json`` (its state, rewritten
atomically on every change of state) and, when done, the package zip. Jobs survive a
restart; one that was running or queued when the server stopped is marked failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from vms_core.audit import AuditLog
from vms_core.db.engine import Database
from vms_core.db.models import User
from vms_core.exports.package import (
    BuiltPackage,
    CameraClip,
    ExportRequest,
    NothingRecorded,
    build_package,
)
from vms_core.exports.signing import SigningKey
from vms_core.playback.catalog import segments_in_range
from vms_core.tasks import cancel_and_wait
from vms_core.timeutil import iso, now_us

log = logging.getLogger(__name__)

State = Literal["queued", "running", "done", "failed"]


@dataclass
class ExportJob:
    id: str
    cameras: list[tuple[int, str]]  # (id, name)
    start_us: int
    end_us: int
    reason: str
    created_by: str  # the user name, for people and the manifest
    created_us: int
    # Whose job it is: the user id, never the name (a user re-created under the same
    # name is someone else). None: a job from before ids were kept whose owner could not
    # be told for sure; only admins see it.
    created_by_id: int | None = None
    state: State = "queued"
    progress: float = 0.0
    error: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    package: str | None = None  # zip file name in the job's folder
    finished_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "progress": round(self.progress, 3),
            "cameras": [camera_id for camera_id, _ in self.cameras],
            "start": iso(self.start_us),
            "end": iso(self.end_us),
            "reason": self.reason,
            "created_by": self.created_by,
            "created": iso(self.created_us),
            "finished": iso(self.finished_us),
            "files": self.files,
            "error": self.error,
            "package": f"/api/exports/{self.id}/package" if self.state == "done" else None,
        }


class ExportService:
    def __init__(
        self, db: Database, audit: AuditLog, data_dir: Path, recordings: Path, version: str
    ) -> None:
        self.db = db
        self.audit = audit
        self.data_dir = data_dir
        self.root = data_dir / "exports"
        self.recordings = recordings
        self.version = version
        self._jobs: dict[str, ExportJob] = {}
        self._queue: asyncio.Queue[ExportJob] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._key: SigningKey | None = None

    async def start(self) -> None:
        self._jobs = await asyncio.to_thread(self._load_jobs)
        await self._assign_owners()
        self._worker = asyncio.create_task(self._work(), name="exports")

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        await cancel_and_wait(worker)

    async def signing_key(self) -> SigningKey:
        if self._key is None:
            self._key = await asyncio.to_thread(SigningKey.load_or_create, self.data_dir)
        return self._key

    # -- jobs ----------------------------------------------------------------------------
    async def submit(
        self,
        cameras: list[tuple[int, str]],
        start_us: int,
        end_us: int,
        reason: str,
        username: str,
        user_id: int,
        remote: str = "",
    ) -> ExportJob:
        job = ExportJob(
            id=secrets.token_hex(8),
            cameras=cameras,
            start_us=start_us,
            end_us=end_us,
            reason=reason,
            created_by=username,
            created_us=now_us(),
            created_by_id=user_id,
        )
        self._jobs[job.id] = job
        await asyncio.to_thread(self._save, job)
        await self.audit.record(
            "export.create",
            username=username,
            target=f"export:{job.id}",
            remote=remote,
            detail={
                "cameras": [c for c, _ in cameras],
                "start": iso(start_us),
                "end": iso(end_us),
                "reason": reason,
            },
        )
        self._queue.put_nowait(job)
        return job

    def get(self, job_id: str) -> ExportJob | None:
        return self._jobs.get(job_id)

    async def delete(self, job_id: str, username: str, remote: str = "") -> None:
        """Remove a finished or failed job and its package; ``ValueError`` while it is
        queued or being built (its thread is writing the folder)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        if job.state in ("queued", "running"):
            raise ValueError(f"export {job_id} is {job.state}; delete it when it is done")
        del self._jobs[job_id]
        await asyncio.to_thread(shutil.rmtree, self.root / job_id, True)
        await self.audit.record(
            "export.delete",
            username=username,
            target=f"export:{job_id}",
            remote=remote,
            detail={"cameras": [c for c, _ in job.cameras], "reason": job.reason},
        )

    def jobs(self) -> list[ExportJob]:
        return sorted(self._jobs.values(), key=lambda j: j.created_us, reverse=True)

    def package_path(self, job: ExportJob) -> Path | None:
        if job.state != "done" or job.package is None:
            return None
        path = self.root / job.id / job.package
        return path if path.exists() else None

    async def wait(self, job_id: str) -> ExportJob:
        """Until the job is done or failed (wrap in asyncio.timeout)."""
        while True:
            job = self._jobs[job_id]
            if job.state in ("done", "failed"):
                return job
            await asyncio.sleep(0.1)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._run(job)
            except NothingRecorded as exc:
                log.info("export %s: %s", job.id, exc)
                job.state, job.error = "failed", str(exc)
            except Exception as exc:
                log.exception("export %s failed", job.id)
                job.state, job.error = "failed", str(exc) or type(exc).__name__
            job.finished_us = now_us()
            await asyncio.to_thread(self._save, job)
            await self.audit.record(
                f"export.{job.state}",
                username=job.created_by,
                target=f"export:{job.id}",
                success=job.state == "done",
                detail={"error": job.error} if job.error else {"files": job.files},
            )

    async def _run(self, job: ExportJob) -> None:
        job.state = "running"
        await asyncio.to_thread(self._save, job)
        clips = [
            CameraClip(
                camera_id,
                name,
                await segments_in_range(
                    self.db, self.recordings, camera_id, job.start_us, job.end_us
                ),
            )
            for camera_id, name in job.cameras
        ]
        request = ExportRequest(
            export_id=job.id,
            clips=clips,
            start_us=job.start_us,
            end_us=job.end_us,
            reason=job.reason,
            created_by=job.created_by,
            created_us=job.created_us,
            server_version=self.version,
        )
        key = await self.signing_key()

        def progress(value: float) -> None:
            job.progress = value  # a float store: safe from the build thread

        built: BuiltPackage = await asyncio.to_thread(
            build_package, request, key, self.root / job.id, progress
        )
        job.files = built.files
        job.package = built.zip_path.name
        job.progress = 1.0
        job.state = "done"

    async def _assign_owners(self) -> None:
        """Give jobs saved before owners were kept by id (no ``created_by_id``) the id of
        the user of that name, but only if that user existed when the job was made: a
        user created later under the same name is someone else and gets nothing."""
        unowned = [j for j in self._jobs.values() if j.created_by_id is None]
        if not unowned:
            return
        async with self.db.session() as session:
            users = {u.username: u for u in await session.scalars(select(User))}
        for job in unowned:
            user = users.get(job.created_by)
            if user is not None and user.created_us <= job.created_us:
                job.created_by_id = user.id
                await asyncio.to_thread(self._save, job)
            else:
                log.warning(
                    "export %s: its owner %r is no longer the user of that name; only "
                    "admins see it",
                    job.id,
                    job.created_by,
                )

    # -- persistence ---------------------------------------------------------------------
    def _save(self, job: ExportJob) -> None:
        folder = self.root / job.id
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "job.json.tmp"
        temporary.write_text(json.dumps(asdict(job), indent=2))
        os.replace(temporary, folder / "job.json")

    def _load_jobs(self) -> dict[str, ExportJob]:
        jobs: dict[str, ExportJob] = {}
        if not self.root.is_dir():
            return jobs
        for path in self.root.glob("*/job.json"):
            try:
                data = json.loads(path.read_text())
                data["cameras"] = [tuple(c) for c in data["cameras"]]
                job = ExportJob(**data)
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring unreadable export job %s: %s", path, exc)
                continue
            if job.state in ("queued", "running"):
                job.state, job.error = "failed", "interrupted by a server restart"
                self._save(job)
            jobs[job.id] = job
        return jobs
