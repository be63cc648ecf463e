"""The camera registry.

Cameras declared in vms.toml are synchronised into the catalog on start and on every reload;
a camera whose settings did not change is not touched, so its recording goes on. A camera
removed from vms.toml is disabled, not deleted: its recordings stay until retention.
Listeners (the recorder, live view) hear about every change.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from vms_sdk import Camera as SdkCamera

from vms_core.accounts import Principal
from vms_core.config.settings import CameraSettings, Settings
from vms_core.db.engine import Database
from vms_core.db.models import Bookmark, Camera, Stream
from vms_core.limits import ID_MAX, ID_MIN
from vms_core.onvif.client import DeviceDescription, MediaProfile
from vms_core.secrets import SecretBox
from vms_core.signals import AsyncSignal, Signal
from vms_core.timeutil import iso, now_us
from vms_core.untrusted import bounded_text

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
# How long the server's stop waits for camera changes still being announced.
SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class CameraChange:
    kind: Literal["added", "changed", "removed"]
    camera_id: int
    name: str


@dataclass(frozen=True, slots=True)
class CameraState:
    """A camera's state as the catalog now holds it (streaming, lost, online, ...)."""

    camera_id: int
    state: str
    reason: str


def camera_json(camera: Camera) -> dict[str, Any]:
    """The API's view of a camera. Credentials never leave the server."""
    return {
        "id": camera.id,
        "name": camera.name,
        "source": camera.source,
        "onvif_url": camera.onvif_url,
        "username": camera.username,
        "has_password": bool(camera.password_encrypted),
        "manufacturer": camera.manufacturer,
        "model": camera.model,
        "lat": camera.lat,
        "lon": camera.lon,
        "heading": camera.heading,
        "fov": camera.fov,
        "enabled": camera.enabled,
        "record": camera.record,
        "has_ptz": camera.has_ptz,
        "retention": {
            "max_days": camera.retention_max_days,
            "max_bytes": camera.retention_max_bytes,
        },
        "state": camera.state,
        # Bounded on the way out too: catalogs written before reasons were bounded on the way in.
        "state_reason": bounded_text(camera.state_reason),
        "state_changed": iso(camera.state_changed_us or None),
        "streams": [
            {
                "role": s.role,
                "url": _redact(s.url),
                "codec": s.codec,
                "width": s.width,
                "height": s.height,
                "fps": s.fps,
                "bitrate": s.bitrate,
                "audio_codec": s.audio_codec,
            }
            for s in camera.streams
        ],
    }


def sdk_camera(camera: Camera) -> SdkCamera:
    """The plug-in SDK's view of a camera."""
    return SdkCamera(
        id=str(camera.id),
        name=camera.name,
        lat=camera.lat,
        lon=camera.lon,
        heading_deg=camera.heading,
        fov_deg=camera.fov,
        state=camera.state if camera.enabled else "disabled",
        has_ptz=camera.has_ptz,
    )


def choose_streams(profiles: list[MediaProfile]) -> dict[str, MediaProfile]:
    """Main stream: the largest picture; sub stream: the smallest other one (if any)."""
    usable = [p for p in profiles if p.stream_uri]
    if not usable:
        return {}

    def area(profile: MediaProfile) -> int:
        return (profile.width or 0) * (profile.height or 0)

    ordered = sorted(usable, key=area, reverse=True)
    chosen = {"main": ordered[0]}
    if len(ordered) > 1:
        chosen["sub"] = ordered[-1]
    return chosen


def _redact(url: str) -> str:
    # A URL may carry user:password@; the API shows neither.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def _retrieved(task: asyncio.Future[Any]) -> None:
    # Whoever awaited it got its error; if they were cancelled first, nobody did.
    if not task.cancelled() and task.exception() is not None:
        log.debug("camera change failed after its caller was cancelled: %s", task.exception())


def _to_the_end(
    change: Callable[Concatenate[CameraService, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[CameraService, P], Coroutine[Any, Any, T]]:
    """Run a catalog change and its announcement to the listeners to the end, even if the
    caller is cancelled meanwhile (`vms demo` stopping while it adds cameras, a request
    ended): cut short after the commit, the listeners never heard of a camera that is in
    the catalog (the plug-ins' camera list missed one). The caller still gets its
    CancelledError at once; :meth:`CameraService.settle` waits for what is left."""

    async def to_the_end(self: CameraService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(change(self, *args, **kwargs))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)
        task.add_done_callback(_retrieved)
        return await asyncio.shield(task)

    functools.update_wrapper(to_the_end, change)  # the method's name and manual
    return to_the_end


class CameraService:
    def __init__(self, db: Database, secrets: SecretBox) -> None:
        self.db = db
        self.secrets = secrets
        # Every camera added, changed or removed, one change at a time (recording, ONVIF
        # health and events, the plug-in host listen).
        self.changed: AsyncSignal[CameraChange] = AsyncSignal("camera changed")
        # Every change of a camera's stored state (recording's stream states, ONVIF health),
        # at once; the EventBus carries the debounced events users see.
        self.state_changed: Signal[CameraState] = Signal("camera state changed")
        self._announcing: set[asyncio.Future[Any]] = set()

    async def _notify(self, changes: list[CameraChange]) -> None:
        for change in changes:
            await self.changed.emit(change)

    async def settle(self) -> None:
        """Wait (up to SETTLE_SECONDS) for changes still being announced (their callers
        were cancelled): the server's stop, before it stops the listeners."""
        if self._announcing:
            await asyncio.wait(list(self._announcing), timeout=SETTLE_SECONDS)

    # -- queries ---------------------------------------------------------------------------
    async def visible(self, principal: Principal | None = None) -> list[Camera]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Camera).options(selectinload(Camera.streams)).order_by(Camera.name)
            )
            cameras = list(rows)
        if principal is not None:
            cameras = [c for c in cameras if principal.can_see(c.id)]
        return cameras

    async def get(self, camera_id: int, principal: Principal | None = None) -> Camera | None:
        """The camera, or None when it does not exist or the principal may not see it."""
        if principal is not None and not principal.can_see(camera_id):
            return None
        async with self.db.session() as session:
            return await session.scalar(
                select(Camera).options(selectinload(Camera.streams)).where(Camera.id == camera_id)
            )

    async def existing_ids(self, camera_ids: Iterable[int]) -> set[int]:
        """Which of ``camera_ids`` are cameras in the catalog (ids outside the catalog's
        range never are)."""
        wanted = {c for c in camera_ids if ID_MIN <= c <= ID_MAX}
        if not wanted:
            return set()
        async with self.db.session() as session:
            return set(await session.scalars(select(Camera.id).where(Camera.id.in_(wanted))))

    async def password(self, camera_id: int) -> str:
        async with self.db.session() as session:
            camera = await session.get(Camera, camera_id)
            return "" if camera is None else self.secrets.decrypt(camera.password_encrypted)

    # -- changes ---------------------------------------------------------------------------
    async def set_state(self, camera_id: int, state: str, reason: str = "") -> bool:
        """Record a health state; returns True when it (or its reason) changed."""
        return await self.update_state(camera_id, state, reason) is not None

    async def update_state(
        self,
        camera_id: int,
        state: str,
        reason: str = "",
        *,
        only_from: frozenset[str] | None = None,
    ) -> Literal["state", "reason"] | None:
        """Record a health state; says what changed: the state, only its reason, or nothing.
        The reason often quotes a camera (a fault, an RTSP status line): it is stored bounded
        and on one line. ``only_from``: change it only from one of these states (a check
        that may not overrule what another source reported meanwhile)."""
        reason = bounded_text(reason)
        # Conditional UPDATEs: no read-then-write race with a camera deleted meanwhile (a
        # state report for it changes nothing) or with another check's report, and no write
        # when nothing changed.
        changed: Literal["state", "reason"] | None = None
        async with self.db.session() as session:
            for kind, condition in (
                ("state", Camera.state != state),
                ("reason", Camera.state_reason != reason),
            ):
                where = [Camera.id == camera_id, condition]
                if only_from is not None:
                    where.append(Camera.state.in_(only_from))
                result = await session.execute(
                    update(Camera)
                    .where(*where)
                    .values(state=state, state_reason=reason, state_changed_us=now_us())
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0):
                    changed = "state" if kind == "state" else "reason"
                    break
        if changed is not None:
            self.state_changed.emit(CameraState(camera_id, state, reason))
        return changed

    @_to_the_end
    async def sync_from_config(self, settings: Settings) -> list[CameraChange]:
        """Make the catalog's config cameras match vms.toml; report what changed."""
        changes: list[CameraChange] = []
        async with self.db.session() as session:
            existing = {
                c.name: c
                for c in await session.scalars(select(Camera).options(selectinload(Camera.streams)))
            }
            wanted = {c.name for c in settings.cameras}
            for cfg in settings.cameras:
                camera = existing.get(cfg.name)
                if camera is None:
                    camera = self._new_camera(cfg)
                    session.add(camera)
                    await session.flush()
                    changes.append(CameraChange("added", camera.id, camera.name))
                elif self._apply(camera, cfg, session):
                    await session.flush()
                    changes.append(CameraChange("changed", camera.id, camera.name))
            for name, camera in existing.items():
                if name not in wanted and camera.source == "config" and camera.enabled:
                    camera.enabled = False
                    camera.updated_us = now_us()
                    changes.append(CameraChange("removed", camera.id, camera.name))
        await self._notify(changes)
        return changes

    @_to_the_end
    async def add(
        self,
        cfg: CameraSettings,
        source: str = "api",
        *,
        has_ptz: bool = False,
        manufacturer: str = "",
        model: str = "",
    ) -> Camera:
        """Add a camera at run time (API, discovery, demo). Raises ValueError if the name
        is taken."""
        async with self.db.session() as session:
            taken = await session.scalar(select(Camera.id).where(Camera.name == cfg.name))
            if taken is not None:
                raise ValueError(f'a camera named "{cfg.name}" exists already')
            camera = self._new_camera(cfg)
            camera.source = source
            camera.has_ptz = has_ptz
            camera.manufacturer, camera.model = manufacturer, model
            session.add(camera)
            await session.flush()
            camera_id = camera.id
        await self._notify([CameraChange("added", camera_id, cfg.name)])
        found = await self.get(camera_id)
        assert found is not None
        return found

    @_to_the_end
    async def update(self, camera_id: int, cfg: CameraSettings) -> bool:
        """Apply new settings to a run-time camera; listeners hear of it only if something
        changed. Returns whether it did."""
        async with self.db.session() as session:
            camera = await session.scalar(
                select(Camera).options(selectinload(Camera.streams)).where(Camera.id == camera_id)
            )
            if camera is None:
                raise KeyError(camera_id)
            source = camera.source
            changed = self._apply(camera, cfg, session)
            camera.source = source
        if changed:
            await self._notify([CameraChange("changed", camera_id, cfg.name)])
        return changed

    @_to_the_end
    async def apply_onvif(self, camera_id: int, device: DeviceDescription) -> bool:
        """Fill in what the camera said about itself over ONVIF: its main and sub streams
        (URI, codec, size, frame rate, profile token), make and model, PTZ. A stream whose
        URL came from the settings (no profile token) is left as it is. Listeners hear of
        it only if something changed; returns whether it did."""
        chosen = choose_streams(device.profiles)
        async with self.db.session() as session:
            camera = await session.scalar(
                select(Camera).options(selectinload(Camera.streams)).where(Camera.id == camera_id)
            )
            if camera is None:
                raise KeyError(camera_id)
            changed = False
            for key, value in (
                ("manufacturer", device.manufacturer[:128]),
                ("model", device.model[:128]),
                ("has_ptz", device.has_ptz),
            ):
                if getattr(camera, key) != value:
                    setattr(camera, key, value)
                    changed = True
            streams = {s.role: s for s in camera.streams}
            for role, profile in chosen.items():
                stream = streams.get(role)
                if stream is not None and stream.url and not stream.profile_token:
                    continue  # a URL set in the settings wins over what ONVIF offers
                if stream is None:
                    stream = Stream(role=role, url="", codec="", audio_codec="", profile_token="")
                    camera.streams.append(stream)
                wanted: dict[str, Any] = {
                    "url": profile.stream_uri,
                    "profile_token": profile.token[:128],
                    "codec": profile.encoding.lower()[:32],
                    "width": profile.width,
                    "height": profile.height,
                    "fps": profile.fps,
                    "bitrate": None
                    if profile.bitrate_kbps is None
                    else profile.bitrate_kbps * 1000,
                }
                for key, value in wanted.items():
                    if getattr(stream, key) != value:
                        setattr(stream, key, value)
                        changed = True
            for role, stream in streams.items():
                if role not in chosen and stream.profile_token:
                    camera.streams.remove(stream)
                    changed = True
            if changed:
                camera.updated_us = now_us()
            name = camera.name
        if changed:
            await self._notify([CameraChange("changed", camera_id, name)])
        return changed

    @_to_the_end
    async def remove(self, camera_id: int) -> None:
        """Delete a run-time camera: first disabled (so its recording stops), then its row.
        Files already recorded stay on disk. Raises KeyError if there is no such camera,
        ValueError if it has locked evidence (deleting the row would drop the locks)."""
        async with self.db.session() as session:
            camera = await session.get(Camera, camera_id)
            if camera is None:
                raise KeyError(camera_id)
            locked = await session.scalar(
                select(func.count())
                .select_from(Bookmark)
                .where(Bookmark.camera_id == camera_id, Bookmark.locked.is_(True))
            )
            if locked:
                raise ValueError(
                    f"camera {camera.name} has {locked} locked evidence bookmark(s); "
                    "unlock them first, or disable the camera instead"
                )
            name, was_enabled = camera.name, camera.enabled
            camera.enabled = False
            camera.updated_us = now_us()
        if was_enabled:
            await self._notify([CameraChange("changed", camera_id, name)])
        async with self.db.session() as session:
            await session.execute(delete(Camera).where(Camera.id == camera_id))
        await self._notify([CameraChange("removed", camera_id, name)])

    def _new_camera(self, cfg: CameraSettings) -> Camera:
        now = now_us()
        camera = Camera(
            name=cfg.name,
            source="config",
            created_us=now,
            updated_us=now,
            state="unknown",
            state_reason="",
            state_changed_us=now,
            manufacturer="",
            model="",
            has_ptz=False,
            streams=[],
        )
        self._apply(camera, cfg, None)
        return camera

    def _apply(self, camera: Camera, cfg: CameraSettings, session: AsyncSession | None) -> bool:
        """Copy settings onto the row; True if anything differs."""
        retention = cfg.retention
        wanted: dict[str, Any] = {
            "source": "config",
            "onvif_url": cfg.onvif_url,
            "username": cfg.username,
            "lat": cfg.lat,
            "lon": cfg.lon,
            "heading": cfg.heading,
            "fov": cfg.fov,
            "enabled": cfg.enabled,
            "record": cfg.record,
            "retention_max_days": retention.max_days if retention else None,
            "retention_max_bytes": retention.max_bytes if retention else None,
        }
        changed = False
        for key, value in wanted.items():
            if getattr(camera, key, None) != value:
                setattr(camera, key, value)
                changed = True
        current_password = self.secrets.decrypt(camera.password_encrypted or "")
        if current_password != cfg.password:
            camera.password_encrypted = self.secrets.encrypt(cfg.password)
            changed = True
        urls = {"main": cfg.rtsp_url, "sub": cfg.sub_rtsp_url}
        streams = {s.role: s for s in camera.streams}
        for role, url in urls.items():
            stream = streams.get(role)
            if url and stream is None:
                camera.streams.append(
                    Stream(role=role, url=url, codec="", audio_codec="", profile_token="")
                )
                changed = True
            elif url and stream is not None and stream.url != url:
                stream.url = url
                changed = True
            elif not url and stream is not None and not cfg.onvif_url:
                camera.streams.remove(stream)
                changed = True
        if changed:
            camera.updated_us = now_us()
        return changed
