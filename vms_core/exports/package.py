"""Evidence packages: build one, and verify one.

A package is a folder (shipped as a zip holding that folder):

- one plain MP4 per camera (``faststart``: the index first, playable anywhere), cut from
  the keyframe at or before the range's start to its end, remuxed without re-encoding, on
  the real time line (a hole in the recording is a hole in the timestamps);
- ``manifest.json``: cameras, range, who, why, when, server version, the signing key's
  fingerprint, and the size and SHA-256 of every other file;
- ``manifest.sig``: the raw Ed25519 signature of ``manifest.json``'s bytes;
- ``public_key.pem``: the server's public key; ``README.txt``: how to check by hand.

Verification (``vms export verify``, :mod:`vms_core.exports.verify`) needs nothing but the
package, or OpenSSL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vms_core.exports.signing import SigningKey
from vms_core.exports.verify import MANIFEST, PUBLIC_KEY, SIGNATURE
from vms_core.playback.remux import (
    FASTSTART,
    Output,
    RemuxResult,
    SourceSegment,
    gaps_between,
    remux_range,
)
from vms_core.timeutil import iso

FORMAT = "vms-evidence-package/1"
README = "README.txt"
_CHUNK = 1024 * 1024

README_TEXT = """\
Evidence package exported by the vms video management server.

manifest.json   what was exported, by whom and why, and the SHA-256 of every other file
manifest.sig    Ed25519 signature of manifest.json (raw 64 bytes)
public_key.pem  the server's public key; compare its fingerprint (manifest.json,
                "signing_key") with the one the agency publishes for its server

Check with vms:      vms export verify <this folder or zip>
Check with OpenSSL:  openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
                         -in manifest.json -sigfile manifest.sig
                     sha256sum <each file>   (compare with manifest.json "files")
"""


@dataclass(frozen=True)
class CameraClip:
    camera_id: int
    name: str
    segments: list[SourceSegment]

    @property
    def file_name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("._") or "camera"
        return f"camera-{self.camera_id}-{safe}.mp4"


@dataclass(frozen=True)
class ExportRequest:
    export_id: str
    clips: list[CameraClip]
    start_us: int
    end_us: int
    reason: str
    created_by: str
    created_us: int
    server_version: str


@dataclass
class BuiltPackage:
    zip_path: Path
    manifest: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def build_package(
    request: ExportRequest,
    key: SigningKey,
    work_dir: Path,
    on_progress: Callable[[float], None] | None = None,
) -> BuiltPackage:
    """Cut, hash, sign and zip. Blocking: run in a thread. ``work_dir`` receives
    ``<folder>.zip``; the unzipped files are removed once zipped."""
    folder = f"vms-export-{request.export_id}"
    staging = work_dir / folder
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cameras: list[dict[str, Any]] = []
    span = max(1, request.end_us - request.start_us)
    for index, clip in enumerate(request.clips):

        def progress(wall_us: int, index: int = index) -> None:
            if on_progress is not None:
                within = min(1.0, max(0.0, (wall_us - request.start_us) / span))
                on_progress((index + within) / len(request.clips))

        result: RemuxResult | None = None
        if clip.segments:
            result = remux_range(
                clip.segments,
                request.start_us,
                request.end_us,
                Output(str(staging / clip.file_name), "mp4", dict(FASTSTART)),
                keep_gaps=True,
                on_progress=progress,
            )
        cameras.append(_camera_entry(clip, result, request))
        if on_progress is not None:
            on_progress((index + 1) / len(request.clips))
    if not any(c["file"] for c in cameras):
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError("no recording of any of the cameras in the range")
    (staging / PUBLIC_KEY).write_bytes(key.public_pem())
    (staging / README).write_text(README_TEXT)
    files = []
    for name in [c["file"] for c in cameras if c["file"]] + [README]:
        with (staging / name).open("rb") as stream:
            digest, size = sha256_of(stream)
        files.append({"name": name, "bytes": size, "sha256": digest})
    manifest = {
        "format": FORMAT,
        "export_id": request.export_id,
        "created": iso(request.created_us),
        "created_by": request.created_by,
        "reason": request.reason,
        "range": {"start": iso(request.start_us), "end": iso(request.end_us)},
        "server": {"product": "vms", "version": request.server_version},
        "signing_key": {"algorithm": "Ed25519", "fingerprint": key.fingerprint, "file": PUBLIC_KEY},
        "cameras": cameras,
        "files": files,
    }
    manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
    (staging / MANIFEST).write_bytes(manifest_bytes)
    (staging / SIGNATURE).write_bytes(key.sign(manifest_bytes))
    zip_path = work_dir / f"{folder}.zip"
    partial = zip_path.with_suffix(".zip.partial")
    # Stored, not deflated: video does not compress, and members stay byte-identical.
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
        for name in [MANIFEST, SIGNATURE, PUBLIC_KEY, *(f["name"] for f in files)]:
            archive.write(staging / name, f"{folder}/{name}")
    with partial.open("rb") as stream:
        os.fsync(stream.fileno())
    partial.replace(zip_path)
    shutil.rmtree(staging, ignore_errors=True)
    return BuiltPackage(zip_path, manifest, files)


def _camera_entry(
    clip: CameraClip, result: RemuxResult | None, request: ExportRequest
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": clip.camera_id, "name": clip.name, "file": None}
    if result is None or result.start_us is None:
        entry["note"] = "no recording in the range"
        return entry
    gaps = gaps_between(clip.segments, result.start_us, result.end_us or request.end_us)
    entry.update(
        {
            "file": clip.file_name,
            "first_picture": iso(result.start_us),
            "end": iso(result.end_us),
            "video": {"codec": result.codec, "width": result.width, "height": result.height},
            "audio": result.has_audio,
            "frames": result.video_frames,
            # Media time t in the file is wall-clock time first_picture + t.
            "gaps": [{"start": iso(g.start_us), "end": iso(g.end_us)} for g in gaps],
        }
    )
    if result.stopped_early:
        entry["note"] = f"ends early: {result.stopped_early}"
    return entry
