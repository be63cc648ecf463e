"""Configuration errors an operator would make, and the PTZ head's motion over time."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vms_core.simulator.config import (
    CameraConfig,
    SimulatorConfigError,
    VideoProfileConfig,
    default_cameras,
    load_config,
)
from vms_core.simulator.media_specs import loop_spec
from vms_core.simulator.ptz import FULL_SPEED_PER_S, PtzPosition, PtzState, PtzVelocity

SMALL = VideoProfileConfig(width=320, height=180, fps=10)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(text)
    return path


def test_defaults_name_cameras_and_give_each_its_password() -> None:
    cameras = default_cameras(3)
    assert [c.name for c in cameras] == ["sim-cam-1", "sim-cam-2", "sim-cam-3"]
    assert [c.password for c in cameras] == ["pass-1", "pass-2", "pass-3"]
    assert [c.ptz for c in cameras] == [True, False, False]
    assert (cameras[0].main.width, cameras[0].sub.width) == (1920, 640)


def test_bad_scene_and_duplicate_names_are_reported_with_their_key_path(tmp_path: Path) -> None:
    bad_scene = '[[cameras]]\nname = "a"\nscene = { vehicle = { plate = "no!plate" } }\n'
    with pytest.raises(SimulatorConfigError) as caught:
        load_config(write(tmp_path, bad_scene))
    assert any(p.startswith("cameras[0]") and "plate" in p for p in caught.value.problems)

    twice = '[[cameras]]\nname = "a"\n[[cameras]]\nname = "a"\n'
    with pytest.raises(SimulatorConfigError, match="used twice"):
        load_config(write(tmp_path, twice))

    unknown = '[[cameras]]\nname = "a"\nzoom_lens = true\n'
    with pytest.raises(SimulatorConfigError, match=r"cameras\[0\]\.zoom_lens"):
        load_config(write(tmp_path, unknown))


def test_gop_must_divide_the_loop(tmp_path: Path) -> None:
    text = (
        '[[cameras]]\nname = "a"\nscene = { loop_seconds = 3 }\n'
        "main = { width = 320, height = 180, fps = 10, gop_seconds = 2 }\n"
    )
    with pytest.raises(SimulatorConfigError, match="whole GOPs"):
        load_config(write(tmp_path, text))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_continuous_move_integrates_until_timeout_and_stop_holds() -> None:
    clock = FakeClock()
    seen: list[PtzPosition] = []
    head = PtzState(clock=clock, on_change=seen.append)
    head.continuous_move(PtzVelocity(pan=1.0, tilt=-0.5), timeout_s=1.0)
    clock.now += 0.5
    assert head.position().pan == pytest.approx(0.5 * FULL_SPEED_PER_S)
    assert head.velocity().moving_pan_tilt
    clock.now += 5.0  # well past the timeout: the move ended after 1 s
    assert head.position().pan == pytest.approx(1.0 * FULL_SPEED_PER_S)
    assert head.position().tilt == pytest.approx(-0.5 * FULL_SPEED_PER_S)
    assert not head.velocity().moving_pan_tilt
    head.continuous_move(PtzVelocity(pan=1.0), timeout_s=100)
    clock.now += 100  # pan is clamped at the end stop
    assert head.position().pan == 1.0
    head.stop()
    clock.now += 10
    assert head.position().pan == 1.0
    head.absolute_move(PtzPosition(pan=-0.25, tilt=0.1, zoom=0.5))
    assert head.position() == PtzPosition(pan=-0.25, tilt=0.1, zoom=0.5)
    assert seen[-1] == PtzPosition(pan=-0.25, tilt=0.1, zoom=0.5)
    assert len(seen) == 4


def test_cameras_without_burned_in_names_share_one_encoded_loop() -> None:
    first, second = default_cameras(2)
    assert loop_spec(first, "main").cache_key() != loop_spec(second, "main").cache_key()
    shared = [c.model_copy(update={"show_name": False}) for c in (first, second)]
    assert loop_spec(shared[0], "main").cache_key() == loop_spec(shared[1], "main").cache_key()


def test_snapshot_follows_the_ptz_head() -> None:
    from vms_core.simulator.snapshot import SnapshotRenderer

    renderer = SnapshotRenderer(CameraConfig(name="ptz-cam", main=SMALL, sub=SMALL))
    moment = 1_700_000_000.0

    def pixels(view: PtzPosition | None) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(renderer.jpeg("main", moment, view))))

    home = pixels(None)
    assert np.array_equal(home, pixels(PtzPosition())), "the home position is the plain picture"
    panned = pixels(PtzPosition(pan=0.5))
    assert panned.shape == home.shape
    # Panning right by a quarter of the view brings in what was right of centre.
    quarter = home.shape[1] // 4
    shifted_back = np.roll(panned, quarter, axis=1).astype(int)
    assert np.abs(shifted_back - home.astype(int)).mean() < 8
    assert np.abs(panned.astype(int) - home.astype(int)).mean() > 8
    zoomed = pixels(PtzPosition(zoom=0.5))
    assert zoomed.shape == home.shape and np.abs(zoomed.astype(int) - home.astype(int)).mean() > 8
