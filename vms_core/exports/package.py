"""Evidence packages: build one, and verify one.

A package is a folder (shipped as a zip holding that folder):

- one plain MP4 per camera (``faststart``: the index first, playable anywhere), cut from
  the keyframe at or before the range's start to its end, remuxed without re-encoding, on
  the real time line (a hole in the recording is a hole in the timestamps);
- ``manifest.json``: cameras, range, who, why, when, server version, the signing key's
  fingerprint, and the size and SHA-256 of every other file;
- ``manifest.sig``: the raw Ed25519 signature of ``manifest.json``'s bytes;
- ``public_key.pem``: the server's public key; ``README.txt``: how to check by hand.

Verification needs nothing but this module (``vms export verify``) or OpenSSL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature

from vms_core.exports.signing import SigningKey, fingerprint, load_public_pem
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
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
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


class NothingRecorded(ValueError):
    """The range holds no recording of any camera asked for: the request's outcome, not a
    fault of the server."""


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
        raise NothingRecorded("no recording of any of the cameras in the range")
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


# -- verification ------------------------------------------------------------------------


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)  # each starts with the file it is about
    fingerprint: str | None = None
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Files:
    """The package's files by name, from a folder or a zip (one top folder stripped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                if item.is_file():
                    name = item.relative_to(path).as_posix()
                    self._names[name] = name
        else:
            self._zip = zipfile.ZipFile(path)
            members = [m for m in self._zip.namelist() if not m.endswith("/")]
            tops = {m.split("/", 1)[0] for m in members}
            strip = len(tops) == 1 and all("/" in m for m in members)
            for member in members:
                self._names[member.split("/", 1)[1] if strip else member] = member

    def names(self) -> list[str]:
        return list(self._names)

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        member = self._names[name]
        if self._zip is not None:
            with self._zip.open(member) as stream:
                yield stream
        else:
            with (self.path / member).open("rb") as file:
                yield file

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def verify_package(path: Path, trusted_fingerprint: str | None = None) -> VerifyReport:
    """Check the signature of the manifest and every file's size and SHA-256. Each problem
    names the file it concerns. Blocking."""
    report = VerifyReport()
    try:
        files = _Files(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"{path.name}: not a readable package folder or zip ({exc})")
        return report
    try:
        _verify(files, report, trusted_fingerprint)
    finally:
        files.close()
    return report


def _read(files: _Files, name: str, report: VerifyReport) -> bytes | None:
    if name not in files.names():
        report.problems.append(f"{name}: missing")
        return None
    try:
        return files.read(name)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"{name}: unreadable ({exc})")
        return None


def _verify(files: _Files, report: VerifyReport, trusted: str | None) -> None:
    manifest_bytes = _read(files, MANIFEST, report)
    signature = _read(files, SIGNATURE, report)
    pem = _read(files, PUBLIC_KEY, report)
    public_key = None
    if pem is not None:
        try:
            public_key = load_public_pem(pem)
        except ValueError as exc:
            report.problems.append(f"{PUBLIC_KEY}: not an Ed25519 public key ({exc})")
    if public_key is not None:
        report.fingerprint = fingerprint(public_key)
        if trusted is not None and report.fingerprint != trusted:
            report.problems.append(
                f"{PUBLIC_KEY}: key {report.fingerprint} is not the trusted key {trusted}"
            )
    if public_key is not None and manifest_bytes is not None and signature is not None:
        if len(signature) != 64:
            report.problems.append(f"{SIGNATURE}: not an Ed25519 signature (64 bytes)")
        else:
            try:
                public_key.verify(signature, manifest_bytes)
            except InvalidSignature:
                report.problems.append(
                    f"{MANIFEST}: does not match its signature {SIGNATURE} with the key in "
                    f"{PUBLIC_KEY} (one of these files was changed)"
                )
    if manifest_bytes is None:
        return
    try:
        manifest = json.loads(manifest_bytes)
        listed = {str(f["name"]): f for f in manifest["files"]}
        claimed = str(manifest["signing_key"]["fingerprint"])
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{MANIFEST}: not a vms manifest ({exc})")
        return
    if report.fingerprint is not None and claimed != report.fingerprint:
        report.problems.append(
            f"{PUBLIC_KEY}: fingerprint {report.fingerprint} differs from the manifest's {claimed}"
        )
    for name, entry in listed.items():
        if name not in files.names():
            report.problems.append(f"{name}: missing")
            continue
        try:
            with files.open(name) as stream:
                digest, size = sha256_of(stream)
        except (OSError, zipfile.BadZipFile) as exc:
            report.problems.append(f"{name}: unreadable ({exc})")
            continue
        if size != entry.get("bytes"):
            report.problems.append(f"{name}: {size} bytes, the manifest says {entry.get('bytes')}")
        elif digest != entry.get("sha256"):
            report.problems.append(f"{name}: SHA-256 differs from the manifest")
        else:
            report.checked.append(name)
    for name in files.names():
        if name not in listed and name not in (MANIFEST, SIGNATURE, PUBLIC_KEY):
            report.problems.append(f"{name}: not listed in the manifest")
