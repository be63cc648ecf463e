"""``[plugins.lpr]`` settings, checked once in ``vms_configure``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from vms_sdk.settings import CameraRef, Number, PluginSettings, Whole

from vms_plugin_lpr.plates import clean


def _hotlist(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(f"no such file: {path}")
    return path


HotlistFile = Annotated[str, AfterValidator(_hotlist)]


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
    ocr_threads: Annotated[Whole, Field(ge=1, le=16)] = 1
    hotlists: dict[str, HotlistFile] | None = None  # list name -> CSV path
    webhook_secret: Annotated[str, Field(min_length=16)] | None = None
    # Channels told of hits directly, plate included.
    notify_channels: tuple[str, ...] = ()


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
