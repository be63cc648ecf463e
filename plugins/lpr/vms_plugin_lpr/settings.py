"""``[plugins.lpr]`` settings, checked once in ``vms_configure``."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vms_sdk import ConfigError

from vms_plugin_lpr.plates import clean

_KNOWN = {
    "cameras",
    "fps",
    "stream",
    "min_agree",
    "min_score",
    "vote_window_s",
    "merge_window_s",
    "motion_min_fraction",
    "ocr_threads",
    "hotlists",
    "webhook_secret",
    "notify_channels",
}


@dataclass(frozen=True, slots=True)
class LprSettings:
    """What the operator can tune. Defaults suit a 640x360 sub stream."""

    cameras: tuple[str, ...] | None = None  # None: every camera
    # Frames analysed per second. 3 leaves room for three agreeing reads within ~2.5 s of
    # a plate coming into view, so hotlist hits reach operators within 3 s.
    fps: float = 3.0
    stream: str = "sub"
    min_agree: int = 3  # frames that must read the same text before it is reported
    min_score: float = 0.8  # recogniser confidence a frame's text needs to count
    vote_window_s: float = 10.0
    merge_window_s: float = 60.0  # sightings of one plate this close are one read
    motion_min_fraction: float = 0.002
    ocr_threads: int = 1
    hotlists: Mapping[str, str] | None = None  # list name -> CSV path
    webhook_secret: str | None = None
    notify_channels: tuple[str, ...] = ()  # channels told of hits directly, plate included

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> LprSettings:
        for key in raw:
            if key not in _KNOWN:
                raise ConfigError(key, f"unknown setting; known: {', '.join(sorted(_KNOWN))}")
        values = dict(raw)
        cameras = values.get("cameras")
        if cameras is not None:
            if not isinstance(cameras, list) or not all(isinstance(c, str | int) for c in cameras):
                raise ConfigError("cameras", "a list of camera ids")
            values["cameras"] = tuple(str(c) for c in cameras)
        _number(values, "fps", 0.1, 30)
        _number(values, "min_score", 0.0, 1.0)
        _number(values, "vote_window_s", 1, 600)
        _number(values, "merge_window_s", 0, 86400)
        _number(values, "motion_min_fraction", 0.0, 0.5)
        _integer(values, "min_agree", 1, 20)
        _integer(values, "ocr_threads", 1, 16)
        if values.get("stream", "sub") not in ("sub", "main"):
            raise ConfigError("stream", "'sub' or 'main'")
        hotlists = values.get("hotlists")
        if hotlists is not None:
            if not isinstance(hotlists, Mapping) or not all(
                isinstance(v, str) for v in hotlists.values()
            ):
                raise ConfigError("hotlists", "a table of list name = CSV file path")
            for name, path in hotlists.items():
                if not Path(path).is_file():
                    raise ConfigError(f"hotlists.{name}", f"no such file: {path}")
            values["hotlists"] = dict(hotlists)
        channels = values.get("notify_channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ConfigError("notify_channels", "a list of channel names")
        values["notify_channels"] = tuple(channels)
        secret = values.get("webhook_secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise ConfigError("webhook_secret", "a shared secret of at least 16 characters")
        return cls(**values)


def _number(values: dict[str, Any], key: str, low: float, high: float) -> None:
    if key in values:
        value = values[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ConfigError(key, f"a number from {low} to {high}")
        values[key] = float(value)


def _integer(values: dict[str, Any], key: str, low: int, high: int) -> None:
    if key in values:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(key, f"a whole number from {low} to {high}")


def read_hotlist_csv(path: Path) -> list[tuple[str, str]]:
    """``(plate, reason)`` pairs from a CSV file: a header naming a ``plate`` column (and
    optionally ``reason``), or no header with the plate in the first column."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    plate_col, reason_col = 0, 1
    if "plate" in header:
        plate_col = header.index("plate")
        reason_col = header.index("reason") if "reason" in header else -1
        rows = rows[1:]
    entries = []
    for row in rows:
        plate = clean(row[plate_col]) if plate_col < len(row) else ""
        reason = row[reason_col].strip() if 0 <= reason_col < len(row) else ""
        if plate:
            entries.append((plate, reason))
    return entries
