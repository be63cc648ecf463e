"""What a plug-in may do: the capabilities it requests and the operator grants.

A plug-in lists what it needs in ``PluginInfo.requests`` (its manifest); the operator
grants capabilities in ``vms.toml``::

    [plugins.gunshot]
    grant = ["events", "bookmarks", "evidence_locks", "audio", "public_routes", "notify"]

A capability is one of :data:`CAPABILITIES`; ``frames`` and ``audio`` may name cameras
(``"frames:3"`` or ``"frames:Main St"``; plain ``"frames"`` is every camera). A context call
outside the grant raises :class:`~vms_sdk.errors.NotGranted` and is written to the audit
log; the server shows requested and granted capabilities side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CAPABILITIES: dict[str, str] = {
    "events": "publish events (ctx.publish_event)",
    "bookmarks": "bookmark recordings (ctx.bookmark)",
    "evidence_locks": "lock recordings as evidence (ctx.bookmark(lock=True))",
    "ptz": "move PTZ cameras to presets (ctx.ptz_goto_preset)",
    "snapshots": "fetch camera pictures (ctx.snapshot)",
    "notify": "send notifications through channels (ctx.notify)",
    "channel": "deliver notifications (vms_notify)",
    "frames": "decoded video frames of cameras (frames:<camera> for one)",
    "audio": "decoded audio of cameras (audio:<camera> for one)",
    "segments": "hear of closed recording segments and read them (vms_on_segment_closed)",
    "public_routes": "HTTP routes anyone may call without logging in (webhooks)",
    "network": "open outbound network connections",
}
SCOPED = ("frames", "audio")


def check_capability(text: str) -> str:
    """``text`` if it names a capability (``frames:<camera>`` included).

    :raises ValueError: naming the unknown capability and the known ones.
    """
    base, _, scope = text.partition(":")
    if base not in CAPABILITIES or (scope and base not in SCOPED) or text.endswith(":"):
        raise ValueError(
            f"unknown capability {text!r}; known: {', '.join(CAPABILITIES)} "
            f"(frames:<camera> and audio:<camera> name one camera)"
        )
    return text


@dataclass(frozen=True)
class Grant:
    """A set of capabilities (requested or granted)."""

    capabilities: frozenset[str] = frozenset()

    @classmethod
    def of(cls, items: Iterable[str]) -> Grant:
        """A grant of ``items`` (each checked with :func:`check_capability`)."""
        return cls(frozenset(check_capability(str(i).strip()) for i in items))

    def allows(self, capability: str) -> bool:
        """Whether ``capability`` (unscoped, e.g. ``"events"``) is in the grant."""
        return capability in self.capabilities

    def cameras(self, capability: str) -> frozenset[str] | None:
        """Cameras a scoped capability covers: ``None`` for every camera, else the ids
        or names listed (empty: none)."""
        if capability in self.capabilities:
            return None
        prefix = capability + ":"
        return frozenset(c[len(prefix) :] for c in self.capabilities if c.startswith(prefix))

    def missing(self, requested: Grant) -> list[str]:
        """What ``requested`` asks for that this grant does not give, sorted."""
        out = []
        for cap in requested.capabilities:
            base, _, scope = cap.partition(":")
            if cap in self.capabilities or (scope and base in self.capabilities):
                continue
            out.append(cap)
        return sorted(out)

    def as_list(self) -> list[str]:
        """Sorted names, for JSON."""
        return sorted(self.capabilities)
