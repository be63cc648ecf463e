"""Loops are encoded once: cached on disk across restarts, shared in memory across cameras."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from vms_core.simulator.media import (
    LoopSpec,
    LoopStore,
    SceneConfig,
    VehicleScene,
    VideoProfile,
    load_or_encode,
)


def tiny_spec(title: str | None = None, **scene: object) -> LoopSpec:
    return LoopSpec(
        SceneConfig(
            loop_seconds=2, vehicle=VehicleScene(every_s=2, crossing_s=1.5, first_at_s=0), **scene
        ),  # type: ignore[arg-type]
        VideoProfile(160, 90, 5, 100_000),
        title=title,
    )


def test_second_load_comes_from_disk_with_identical_media(tmp_path: Path) -> None:
    first = load_or_encode(tiny_spec(), tmp_path)
    assert not first.from_cache and first.encode_seconds > 0
    assert len(list(tmp_path.glob("*.bin"))) == 1

    again = load_or_encode(tiny_spec(), tmp_path)  # as after a restart
    assert again.from_cache
    assert again.video == first.video
    assert again.parameter_sets == first.parameter_sets
    assert again.events == first.events


def test_truncated_cache_is_re_encoded(tmp_path: Path) -> None:
    first = load_or_encode(tiny_spec(), tmp_path)
    (blob,) = tmp_path.glob("*.bin")
    blob.write_bytes(blob.read_bytes()[:100])
    again = load_or_encode(tiny_spec(), tmp_path)
    assert not again.from_cache
    assert again.video.units == first.video.units or len(again.video.units) == len(
        first.video.units
    )
    assert load_or_encode(tiny_spec(), tmp_path).from_cache


def test_cache_key_covers_what_changes_the_media_and_nothing_else() -> None:
    base = tiny_spec()
    assert tiny_spec(title="Cam 1").cache_key() != base.cache_key()
    assert tiny_spec(title="Cam 1").cache_key() != tiny_spec(title="Cam 2").cache_key()
    other_plate = dataclasses.replace(
        base,
        scene=dataclasses.replace(
            base.scene, vehicle=VehicleScene(plate="XYZ 9", every_s=2, crossing_s=1.5, first_at_s=0)
        ),
    )
    assert other_plate.cache_key() != base.cache_key()
    other_rate = dataclasses.replace(base, video=VideoProfile(160, 90, 5, 200_000))
    assert other_rate.cache_key() != base.cache_key()
    # Drop emulation happens at play time: same media, same loop.
    assert tiny_spec(drop_every_s=30.0, down_s=5.0).cache_key() == base.cache_key()


async def test_cameras_with_equal_specs_share_one_encode(tmp_path: Path) -> None:
    store = LoopStore(tmp_path)
    loops = await asyncio.gather(*(store.get(tiny_spec()) for _ in range(8)))
    assert all(loop is loops[0] for loop in loops)
    named = await store.get(tiny_spec(title="Cam 7"))
    assert named is not loops[0]
    assert len(list(tmp_path.glob("*.bin"))) == 2
