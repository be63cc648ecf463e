"""Scenes come from the simulator's TOML config and give the detectors' ground truth."""

from __future__ import annotations

import tomllib

import pytest

from vms_core.simulator.media import PersonScene, SceneConfig, SceneEvent, SoundScene

CONFIG = """
loop_seconds = 60
noise_level = 0.02
drop_every_s = 120
down_s = 10
[vehicle]
plate = "KA 4711"
every_s = 20
[person]
[gunshot]
at_s = [5, 35.5]
[speech]
at_s = [45]
duration_s = 3
"""


def test_scene_from_toml_lists_every_event_in_loop_time() -> None:
    scene = SceneConfig.from_dict(tomllib.loads(CONFIG))
    events = scene.events()
    vehicles = [e for e in events if e.kind == "vehicle"]
    assert [(e.start_s, e.end_s) for e in vehicles] == [(2.0, 7.0), (22.0, 27.0), (42.0, 47.0)]
    assert all(e.data["plate"] == "KA 4711" for e in vehicles)
    assert [e.start_s for e in events if e.kind == "gunshot"] == [5.0, 35.5]
    assert SceneEvent("speech", 45.0, 48.0) in events
    people = [(e.start_s, e.end_s) for e in events if e.kind == "person"]
    assert people == [(10.0, 18.0), (30.0, 38.0), (50.0, 58.0)]
    # Cars and people take turns by default, so each detector sees one object at a time.
    for car in vehicles:
        assert all(end <= car.start_s or start >= car.end_s for start, end in people)
    assert [e.start_s for e in events] == sorted(e.start_s for e in events)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"colour": "red"}, "unknown keys in scene"),
        ({"vehicle": {"plat": "X"}}, "unknown keys in scene.vehicle"),
        ({"vehicle": {"plate": "abc!"}}, "plate"),
        ({"loop_seconds": 10, "gunshot": {"at_s": [9.8]}}, "ends after"),
        ({"speech": {"at_s": []}}, "at least one"),
        ({"drop_every_s": 5, "down_s": 6}, "down_s"),
        ({"person": "yes"}, "must be a table"),
    ],
)
def test_bad_scene_config_is_refused_with_a_clear_message(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SceneConfig.from_dict(raw)


def test_events_repeat_only_while_they_fit_in_the_loop() -> None:
    scene = SceneConfig(loop_seconds=30, person=PersonScene(every_s=12, crossing_s=8, first_at_s=1))
    assert [e.start_s for e in scene.events()] == [1.0, 13.0]
    assert SceneConfig(door_slam=SoundScene(at_s=(3.0,))).events()[0].end_s == pytest.approx(3.8)
