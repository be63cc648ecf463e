"""Following plates across frames: a plate is read a few times, text on the scenery never."""

from __future__ import annotations

import numpy as np
from vms_plugin_lpr.tracking import PlateTracker


def box(x: float, y: float, width: float = 120, height: float = 30) -> np.ndarray:
    return np.array(
        [[x, y], [x + width, y], [x + width, y + height], [x, y + height]], dtype=np.float32
    )


def test_a_moving_plate_is_read_until_its_reads_agree_then_only_followed() -> None:
    tracker = PlateTracker(1280, enough=3)
    tracks = [tracker.update([box(100 + 60 * n, 500)], n / 3)[0] for n in range(5)]
    assert len({t.ident for t in tracks}) == 1  # one vehicle, one track
    track = tracks[-1]
    assert not tracker.static(track)
    for _ in range(3):
        assert tracker.wants_reading(track)
        tracker.note(track, "ABC1234", 0.95)
    assert tracker.agreed(track) == "ABC1234" and not tracker.wants_reading(track)


def test_text_that_stays_put_while_a_vehicle_passes_is_scenery() -> None:
    # A street sign a passing car uncovers: its box changes width as the car covers
    # part of it, but it does not move.
    tracker = PlateTracker(1280)
    seen = []
    for n, width in enumerate([200, 192, 206]):
        (track,) = tracker.update([box(40, 260, width, 28 + n * 6)], n / 3)
        seen.append((track.ident, tracker.static(track)))
    # One track; not judged on first sight, scenery once it has stayed put a while.
    assert seen == [(1, False), (1, True), (1, True)]
