"""``[plugins.lpr]`` settings, checked once in ``vms_configure``."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from vms_sdk.settings import CameraRef, Number, PluginSettings, SettingError, Whole

from vms_plugin_lpr.plates import DEFAULT_FORMATS, PlateFormats, clean, compile_pattern

MAX_WORKERS = 16


def _hotlist(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    return path


HotlistFile = Annotated[str, AfterValidator(_hotlist)]


def _formats(value: dict[str, list[str]]) -> dict[str, list[str]]:
    if not value:
        raise ValueError("name at least one region with its patterns")
    for region, patterns in value.items():
        if not patterns:
            raise SettingError(region, "list at least one pattern")
        for index, pattern in enumerate(patterns):
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise SettingError(f"{region}[{index}]", str(exc)) from None
    return value


Formats = Annotated[dict[str, list[str]], AfterValidator(_formats)]


def machine_cores() -> int:
    """Cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


class LprSettings(PluginSettings):
    """What the operator can tune. Defaults suit a 640x360 sub stream."""

    cameras: tuple[CameraRef, ...] | None = None  # None: every camera
    # Frames analysed per second. 3 leaves room for three agreeing reads within ~2.5 s of
    # a plate coming into view, so hotlist hits reach operators within 3 s.
    fps: Annotated[Number, Field(ge=0.1, le=30)] = 3.0
    stream: Literal["sub", "main"] = "sub"
    # Frames that must read the same text before it is reported.
    min_agree: Annotated[Whole, Field(ge=1, le=20)] = 3
    # Recogniser confidence a frame's text needs to count.
    min_score: Annotated[Number, Field(ge=0, le=1)] = 0.8
    vote_window_s: Annotated[Number, Field(ge=1, le=600)] = 10.0
    # Sightings of one plate this close are one read.
    merge_window_s: Annotated[Number, Field(ge=0, le=86400)] = 60.0
    motion_min_fraction: Annotated[Number, Field(ge=0, le=0.5)] = 0.002
    # What counts as a plate: regular expressions over its letters and digits (no spaces),
    # by region, matched in full. The default takes 4-10 characters with a letter and a
    # digit; e.g. { us = ["[A-Z]{3}[0-9]{4}", "[0-9][A-Z]{3}[0-9]{3}"],
    # uk = ["[A-Z]{2}[0-9]{2}[A-Z]{3}"], in = ["[A-Z]{2}[0-9]{1,2}[A-Z]{1,3}[0-9]{4}"] }.
    plate_formats: Formats = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FORMATS.items()}
    )
    # Frames (of different cameras) read at once, each in a thread: "auto" is one per core.
    workers: Annotated[Whole, Field(ge=1, le=MAX_WORKERS)] | Literal["auto"] = "auto"
    # ONNX threads per detector or recogniser run.
    ocr_threads: Annotated[Whole, Field(ge=1, le=16)] = 1
    # The longer side, in pixels, a moving region is scaled to for the text detector.
    detect_width: Annotated[Whole, Field(ge=96, le=1920)] = 320
    hotlists: dict[str, HotlistFile] | None = None  # list name -> CSV path
    webhook_secret: Annotated[str, Field(min_length=16)] | None = None
    # Channels told of hits directly, plate included.
    notify_channels: tuple[str, ...] = ()

    @property
    def worker_count(self) -> int:
        """``workers`` as a number (``"auto"``: the cores of this machine, at most 16)."""
        return min(MAX_WORKERS, machine_cores()) if self.workers == "auto" else self.workers

    def formats(self) -> PlateFormats:
        return PlateFormats(self.plate_formats)


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
