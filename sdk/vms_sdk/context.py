"""``PluginContext``: the one object through which a plug-in acts on the server.

The host passes a context to every hook that takes ``ctx``. Its methods are the
complete list of what a plug-in may do; anything else (the database, the media
pipeline, other plug-ins) is out of reach on purpose.

Async methods must be awaited on the plug-in's event loop, i.e. from an ``async def``
hook. A plain (sync) hook runs in a worker thread; from there use :meth:`submit`,
e.g. ``ctx.submit(ctx.publish_event(event))``.

Camera ids are strings everywhere in the SDK (``"3"``); the server's REST API shows the
same cameras with integer ids (``3``). Find a camera by its operator-facing name with
:meth:`PluginContext.find_camera`.

When an action fails, the call raises, and nothing was done:

* :class:`~vms_sdk.errors.NotGranted` (a ``PermissionError``): the operator has not
  granted the capability it needs (``events``, ``bookmarks``, ...); the refusal is in
  the server's audit log.
* ``ValueError``: the server refused the request itself (an unknown camera, a camera
  without PTZ, an unknown preset); the message says which.
* :class:`~vms_sdk.errors.PluginUnavailable`: the server did not answer in time or is
  stopping. Retrying later is safe for :meth:`publish_event` (idempotent on
  ``Event.id``) and harmless for the others.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from vms_sdk.geo import NearbyCamera
from vms_sdk.types import Bookmark, Camera, Event, Notification

T = TypeVar("T")


@runtime_checkable
class KeyValueStore(Protocol):
    """A small persistent store for the plug-in's own state (cursors, tokens, counters).

    Keys are strings; values are anything JSON can represent. Each plug-in sees only its
    own keys. Reads are served from memory; writes are saved in the background and
    survive a restart. Not meant for bulk data (keep it under a few hundred keys).
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``; raises ``TypeError`` if it is not JSON-serialisable."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it does not exist."""
        ...

    def items(self) -> Iterator[tuple[str, Any]]:
        """All ``(key, value)`` pairs, in key order."""
        ...


@runtime_checkable
class PluginContext(Protocol):
    """What the host offers a plug-in. See the module docstring for threading rules."""

    @property
    def name(self) -> str:
        """The plug-in's name (``PluginInfo.name``)."""
        ...

    @property
    def config(self) -> Mapping[str, Any]:
        """The plug-in's settings: its ``[plugins.<name>]`` table, without ``enabled``."""
        ...

    @property
    def logger(self) -> logging.Logger:
        """A logger named ``vms.plugins.<name>``; use it instead of ``print``."""
        ...

    @property
    def kv(self) -> KeyValueStore:
        """The plug-in's persistent key-value store."""
        ...

    @property
    def data_dir(self) -> Path:
        """A folder of the plug-in's own, for files that outgrow the key-value store.

        Databases, saved images, downloaded lists: anything the plug-in must keep across
        restarts. The host creates it (``<server data dir>/plugins/<name>/``) and never
        touches its contents; no other plug-in is given it.
        """
        ...

    @property
    def public_url(self) -> str:
        """Absolute URL of the plug-in's HTTP prefix, ending in ``/``.

        E.g. ``https://vms.example.org/api/plugins/<name>/``; give it to third parties
        that must call your webhook routes.
        """
        ...

    def list_cameras(self) -> Sequence[Camera]:
        """Every camera the server knows, in a stable order."""
        ...

    def get_camera(self, camera_id: str) -> Camera | None:
        """The camera with id ``camera_id`` (a string, as everywhere in the SDK), or ``None``."""
        ...

    def find_camera(self, name: str) -> Camera | None:
        """The camera named ``name`` (operator-facing, unique on a server), or ``None``.
        New in API 1.2."""
        ...

    def cameras_near(self, lat: float, lon: float, radius_m: float) -> list[NearbyCamera]:
        """Cameras within ``radius_m`` of a spot, best placed first (see ``vms_sdk.geo``)."""
        ...

    async def publish_event(self, event: Event) -> Event:
        """Publish ``event`` to the server's event bus. Needs the ``events`` grant.

        The host stores it, runs its rules, and passes it to other plug-ins'
        ``vms_on_event``. Returns the event as stored (``source`` set to the plug-in's
        name). Raises ``ValueError`` for a ``time`` outside 1970-01-01T00:00:00Z ..
        9998-12-31T23:59:59.999999Z, the range every part of the server holds to.
        Idempotent on ``Event.id``: publishing an id already stored changes nothing and
        returns the stored event, so a publish that failed with ``PluginUnavailable`` may
        simply be repeated.
        """
        ...

    async def bookmark(
        self,
        camera_ids: Iterable[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool = False,
        event: Event | None = None,
    ) -> Bookmark:
        """Mark ``start``-``end`` on ``camera_ids``; with ``lock=True`` the recordings in
        the range are kept as evidence (retention will not delete them).

        Raises ``ValueError`` for an unknown camera, ``end`` not after ``start``, a time
        outside 1970-01-01T00:00:00Z .. 9998-12-31T23:59:59.999999Z, or a lock whose
        ``end`` is more than 24 h ahead of now (recordings not made yet stay deletable).

        Needs the ``bookmarks`` grant, and ``evidence_locks`` to lock. Pass the ``event``
        (as returned by :meth:`publish_event`) the bookmark is about: operators then see
        the bookmark linked to it (``Bookmark.event_id``; new in API 1.2).
        """
        ...

    async def snapshot(self, camera_id: str) -> bytes | None:
        """A current JPEG picture of the camera, or ``None`` when it has no picture.
        Needs the ``snapshots`` grant."""
        ...

    async def notify(self, notification: Notification) -> None:
        """Send ``notification`` through its channel (handled by channel plug-ins).
        Needs the ``notify`` grant."""
        ...

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        """Move a PTZ camera to one of its named presets (``Camera.presets``). Needs the
        ``ptz`` grant; ``ValueError`` for a camera without PTZ or an unknown preset."""
        ...

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run one of the async methods above from a sync hook's worker thread.

        Returns a ``concurrent.futures.Future``; call ``.result(timeout)`` on it to wait,
        or ignore it to fire and forget. Never call ``.result()`` from ``async`` code.
        """
        ...
