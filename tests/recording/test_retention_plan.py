"""The retention planner's rules on hand-made catalogs."""

from __future__ import annotations

from vms_core.storage.plan import CameraLimits, Limits, SegmentRow, plan_deletions

S = 1_000_000  # one second in microseconds


def row(
    ident: int, camera: int, start_s: int, length_s: int | None = 10, size: int = 100
) -> SegmentRow:
    end = None if length_s is None else (start_s + length_s) * S
    return SegmentRow(ident, camera, start_s * S, end, size, f"/r/{ident}.mp4")


def ids(plan_rows: list[SegmentRow]) -> list[int]:
    return [r.id for r in plan_rows]


def test_per_camera_bytes_delete_that_cameras_oldest_first() -> None:
    rows = [row(i, 1, i * 10) for i in range(5)] + [row(10 + i, 2, i * 10) for i in range(5)]
    plan = plan_deletions(rows, {}, Limits(cameras={1: CameraLimits(max_bytes=300)}), 10_000 * S)
    assert ids(plan.delete) == [0, 1]  # camera 2 has no limit
    assert plan.unmet == []


def test_locked_and_open_segments_are_never_chosen() -> None:
    rows = [row(i, 1, i * 10) for i in range(4)] + [row(4, 1, 40, None)]
    locks = {1: [(5 * S, 12 * S)]}  # overlaps segments 0 (0-10) and 1 (10-20)
    plan = plan_deletions(rows, locks, Limits(cameras={1: CameraLimits(max_bytes=100)}), 0)
    assert ids(plan.delete) == [2, 3]
    assert plan.unmet  # what is left (locked + open) is still over the limit


def test_a_lock_touching_a_segment_edge_keeps_it() -> None:
    rows = [row(0, 1, 0), row(1, 1, 10)]
    plan = plan_deletions(rows, {1: [(10 * S, 10 * S)]}, Limits(total_max_bytes=1), 0)
    assert ids(plan.delete) == []


def test_age_uses_the_cameras_override_and_the_default() -> None:
    rows = [row(0, 1, 0), row(1, 2, 0), row(2, 2, 160)]
    limits = Limits(cameras={1: CameraLimits(max_age_us=1000 * S)}, default_max_age_us=50 * S)
    plan = plan_deletions(rows, {}, limits, now_us=200 * S)
    assert ids(plan.delete) == [1]  # camera 1 keeps 1000 s; camera 2's old one goes


def test_total_and_free_floor_take_the_oldest_anywhere() -> None:
    rows = [row(0, 1, 20), row(1, 2, 0), row(2, 1, 40), row(3, 2, 60)]
    plan = plan_deletions(rows, {}, Limits(total_max_bytes=250), 0)
    assert ids(plan.delete) == [1, 0]
    plan = plan_deletions(rows, {}, Limits(min_free_bytes=1000), 0, free_bytes=850)
    assert ids(plan.delete) == [1, 0]


def test_headroom_keeps_room_for_the_growing_open_segment() -> None:
    rows = [row(i, 1, i * 10) for i in range(3)] + [row(3, 1, 30, None, size=10)]
    limits = Limits(cameras={1: CameraLimits(max_bytes=400)})
    assert ids(plan_deletions(rows, {}, limits, 0).delete) == []
    # The open segment will reach ~150 bytes: make room now, not after the cap is crossed.
    assert ids(plan_deletions(rows, {}, limits, 0, headroom={1: 150}).delete) == [0]
