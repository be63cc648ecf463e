"""Encoded loops cached on disk and shared in memory.

``<cache_dir>/<sha256 of all inputs>.bin`` holds the units back to back; the ``.json`` beside
it lists them (offset, size, keyframe, pts) and is written last, by atomic rename, so a crash
mid-write leaves no half loop that looks complete. Cameras whose specs are equal (same
name-less scene, same profiles) get the very same ``EncodedLoop`` object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from vms_core.simulator.media.encoder import (
    EncodedLoop,
    EncodedTrack,
    EncodedUnit,
    LoopSpec,
    encode_loop,
)

log = logging.getLogger(__name__)


def load_or_encode(spec: LoopSpec, cache_dir: Path | None) -> EncodedLoop:
    """The loop from ``cache_dir`` if it is there, else encoded now and stored. Blocking."""
    if cache_dir is None:
        return encode_loop(spec)
    key = spec.cache_key()
    cached = _read(spec, cache_dir, key)
    if cached is not None:
        return cached
    loop = encode_loop(spec)
    _write(loop, cache_dir, key)
    log.debug(
        "encoded %dx%d %s loop of %ds in %.1fs",
        spec.video.width,
        spec.video.height,
        spec.video.codec,
        spec.scene.loop_seconds,
        loop.encode_seconds,
    )
    return loop


def _track_meta(track: EncodedTrack, offset: int) -> tuple[dict[str, Any], int]:
    units = []
    for unit in track.units:
        units.append([offset, len(unit.data), unit.keyframe, unit.pts])
        offset += len(unit.data)
    meta = {
        "kind": track.kind,
        "codec": track.codec,
        "clock_rate": track.clock_rate,
        "period_ticks": track.period_ticks,
        "units": units,
    }
    return meta, offset


def _write(loop: EncodedLoop, cache_dir: Path, key: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    video_meta, end = _track_meta(loop.video, 0)
    audio_meta = _track_meta(loop.audio, end)[0] if loop.audio is not None else None
    meta = {
        "video": video_meta,
        "audio": audio_meta,
        "parameter_sets": {k: v.hex() for k, v in loop.parameter_sets.items()},
        "audio_config": loop.audio_config,
        "encode_seconds": loop.encode_seconds,
    }
    tag = f".{os.getpid()}.{time.monotonic_ns()}.tmp"
    bin_path, meta_path = cache_dir / f"{key}.bin", cache_dir / f"{key}.json"
    tmp_bin, tmp_meta = Path(str(bin_path) + tag), Path(str(meta_path) + tag)
    with tmp_bin.open("wb") as out:
        for track in (loop.video, loop.audio):
            if track is not None:
                out.writelines(unit.data for unit in track.units)
    tmp_meta.write_text(json.dumps(meta))
    tmp_bin.replace(bin_path)
    tmp_meta.replace(meta_path)


def _read(spec: LoopSpec, cache_dir: Path, key: str) -> EncodedLoop | None:
    bin_path, meta_path = cache_dir / f"{key}.bin", cache_dir / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        blob = bin_path.read_bytes()
        video = _track(meta["video"], blob)
        audio = _track(meta["audio"], blob) if meta["audio"] is not None else None
    except (OSError, ValueError, KeyError, TypeError) as error:
        if meta_path.exists():
            log.warning("ignoring unreadable cached loop %s: %s", meta_path, error)
        return None
    return EncodedLoop(
        spec=spec,
        video=video,
        audio=audio,
        parameter_sets={k: bytes.fromhex(v) for k, v in meta["parameter_sets"].items()},
        audio_config=meta["audio_config"],
        encode_seconds=float(meta["encode_seconds"]),
        from_cache=True,
        events=tuple(spec.scene.events()),
    )


def _track(meta: dict[str, Any], blob: bytes) -> EncodedTrack:
    units = []
    for offset, size, keyframe, pts in meta["units"]:
        if offset + size > len(blob):
            raise ValueError("cached loop is truncated")
        units.append(EncodedUnit(data=blob[offset : offset + size], keyframe=keyframe, pts=pts))
    return EncodedTrack(
        kind=meta["kind"],
        codec=meta["codec"],
        clock_rate=meta["clock_rate"],
        period_ticks=meta["period_ticks"],
        units=tuple(units),
    )


class LoopStore:
    """Hands out encoded loops to cameras: one encode per distinct spec, in a worker
    (``executor``, default the event loop's thread pool), never on the event loop. Pass a
    ``ProcessPoolExecutor`` to keep big encodes off the server process's GIL."""

    def __init__(self, cache_dir: Path | None, executor: Executor | None = None) -> None:
        self.cache_dir = cache_dir
        self._executor = executor
        self._loops: dict[str, asyncio.Future[EncodedLoop]] = {}

    async def get(self, spec: LoopSpec) -> EncodedLoop:
        key = spec.cache_key()
        pending = self._loops.get(key)
        if pending is None:
            running = asyncio.get_running_loop()
            pending = asyncio.ensure_future(
                running.run_in_executor(self._executor, load_or_encode, spec, self.cache_dir)
            )
            self._loops[key] = pending
        try:
            return await asyncio.shield(pending)
        except Exception:
            self._loops.pop(key, None)  # let a later caller try again
            raise
