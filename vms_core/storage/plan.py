"""Which segments retention deletes: a pure function of the catalog, the limits and the
free disk, so every rule is testable without files or a database.

Rules, in order: age (per camera), bytes per camera, bytes in total, free-disk floor.
Within each rule the oldest deletable segment goes first. A segment is never deletable
while it is open or when it overlaps a locked bookmark of its camera.

Byte limits hold *through* recording, not only after a pass: the open segment keeps
growing until it closes, so a camera's usage is counted as its closed bytes plus the
larger of its open segment's bytes and ``headroom`` (what its next segment is expected
to reach).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SegmentRow:
    id: int
    camera_id: int
    start_us: int
    end_us: int | None  # None while open
    bytes: int
    path: str


@dataclass(frozen=True, slots=True)
class CameraLimits:
    max_age_us: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    cameras: Mapping[int, CameraLimits] = field(default_factory=dict)
    default_max_age_us: int | None = None
    total_max_bytes: int | None = None
    min_free_bytes: int = 0

    def for_camera(self, camera_id: int) -> CameraLimits:
        own = self.cameras.get(camera_id, CameraLimits())
        age = own.max_age_us if own.max_age_us is not None else self.default_max_age_us
        return CameraLimits(age, own.max_bytes)


@dataclass(slots=True)
class Plan:
    delete: list[SegmentRow] = field(default_factory=list)
    # Limits that cannot be met because what is left is locked or open.
    unmet: list[str] = field(default_factory=list)
    # Free space kept on top of min_free_bytes for what open segments will still grow by:
    # the floor the free-disk rule works to is min_free_bytes + this.
    reserved_bytes: int = 0

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.delete)


def overlaps_lock(segment: SegmentRow, locks: Sequence[tuple[int, int]]) -> bool:
    end = segment.end_us if segment.end_us is not None else segment.start_us
    # Touching counts: a lock that ends where a segment starts still needs that frame.
    return any(start <= end and segment.start_us <= stop for start, stop in locks)


def plan_deletions(
    segments: Iterable[SegmentRow],
    locks: Mapping[int, Sequence[tuple[int, int]]],
    limits: Limits,
    now_us: int,
    free_bytes: int | None = None,
    headroom: Mapping[int, int] | None = None,
) -> Plan:
    """What to delete now. ``free_bytes`` None skips the free-disk rule."""
    headroom = headroom or {}
    rows = sorted(segments, key=lambda s: (s.start_us, s.id))
    closed_bytes: dict[int, int] = {}
    open_bytes: dict[int, int] = {}
    for row in rows:
        target = closed_bytes if row.end_us is not None else open_bytes
        target[row.camera_id] = target.get(row.camera_id, 0) + row.bytes
    cameras = set(closed_bytes) | set(open_bytes) | set(headroom)
    usage = {
        c: closed_bytes.get(c, 0) + max(open_bytes.get(c, 0), headroom.get(c, 0)) for c in cameras
    }
    deletable = [
        r for r in rows if r.end_us is not None and not overlaps_lock(r, locks.get(r.camera_id, ()))
    ]
    plan = Plan()
    chosen: set[int] = set()

    def take(row: SegmentRow) -> None:
        chosen.add(row.id)
        plan.delete.append(row)
        usage[row.camera_id] -= row.bytes

    # 1. Age, per camera.
    for row in deletable:
        age = limits.for_camera(row.camera_id).max_age_us
        if age is not None and row.end_us is not None and row.end_us < now_us - age:
            take(row)

    # 2. Bytes per camera.
    for camera in sorted(cameras):
        cap = limits.for_camera(camera).max_bytes
        if cap is None:
            continue
        for row in deletable:
            if usage[camera] <= cap:
                break
            if row.camera_id == camera and row.id not in chosen:
                take(row)
        if usage[camera] > cap:
            plan.unmet.append(f"camera {camera}: {usage[camera]} bytes > max_bytes {cap}")

    # 3. Bytes in total, then 4. the free-disk floor: the oldest anywhere goes first.
    def trim(excess: int, what: str) -> None:
        for row in deletable:
            if excess <= 0:
                return
            if row.id not in chosen:
                take(row)
                excess -= row.bytes
        if excess > 0:
            plan.unmet.append(f"{what}: {excess} bytes more would have to go")

    if limits.total_max_bytes is not None:
        trim(sum(usage.values()) - limits.total_max_bytes, "total max_bytes")
    # Free space still to come: what pending open segments will grow to.
    pending = sum(max(0, headroom.get(c, 0) - open_bytes.get(c, 0)) for c in cameras)
    plan.reserved_bytes = pending
    if free_bytes is not None:
        trim(limits.min_free_bytes - (free_bytes - pending + plan.bytes), "min_free_bytes")
    return plan
