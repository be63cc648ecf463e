"""Verifying an evidence package (folder or zip), trusting nothing in it.

A package that verifies must mean one thing: whatever tool opens it shows exactly the
files the signed manifest lists. So besides the signature and each file's size and
SHA-256, the package's shape is checked before anything is read:

- every entry name is a plain relative path (no ``..``, no absolute path, no backslash,
  no drive letter, no control character) of one of the expected files, directly in the
  package folder; anything else is an unexpected entry;
- no name appears twice: zip tools disagree on which copy they show (``zipfile`` and
  ``unzip`` take the last, others the first), so a tampered copy placed before the
  original would be seen while the original was checked;
- no symbolic links, no encrypted entries, no compression but stored or deflate, no
  entry that inflates more than :data:`MAX_INFLATION` times (a zip bomb), at most
  :data:`MAX_ENTRIES` entries, and the small files (manifest, signature, key) within
  their sizes; an entry's size in the zip must match the manifest's before it is hashed,
  so reading is bounded by what the manifest claims.

Every problem is reported naming the file it concerns; nothing in a package can make
verification raise.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature

from vms_core.exports.signing import fingerprint, load_public_pem

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
MAX_ENTRIES = 1000
MAX_INFLATION = 200  # video barely compresses; JSON and text a few times
# Largest size each fixed file may have; listed files may be as large as the manifest says.
SMALL_FILES = {MANIFEST: 4 * 1024 * 1024, SIGNATURE: 64, PUBLIC_KEY: 16 * 1024}
_CHUNK = 1024 * 1024
# Errors the zip module raises on damaged or hostile archives.
_ZIP_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # an unknown compression method
    RuntimeError,  # an encrypted entry
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)  # each starts with the file it is about
    fingerprint: str | None = None
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _shown(name: str) -> str:
    """A name from the package, safe to print on one line."""
    return json.dumps(name, ensure_ascii=True)[1:-1][:200]


def _name_problem(name: str) -> str | None:
    if not name:
        return "an entry without a name"
    if "\\" in name or ":" in name:
        return "a backslash or colon in the name (a Windows path trick)"
    if name.startswith("/"):
        return "an absolute path"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "a control character in the name"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "an empty, '.' or '..' path component"
    return None


class _Files:
    """The package's files by name, from a folder or a zip (one top folder stripped).

    Entries that break the rules are reported in ``report`` and left out of the map
    (a name that appears twice is left out entirely: neither copy is trusted).
    """

    def __init__(self, path: Path, report: VerifyReport) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo | Path] = {}
        self.refused: set[str] = set()
        if path.is_dir():
            self._scan_folder(report)
        else:
            self._zip = zipfile.ZipFile(path)
            self._scan_zip(report)

    def _scan_folder(self, report: VerifyReport) -> None:
        for count, item in enumerate(sorted(self.path.rglob("*"))):
            name = item.relative_to(self.path).as_posix()
            if count >= MAX_ENTRIES:
                report.problems.append(f"{self.path.name}: more than {MAX_ENTRIES} entries")
                return
            if item.is_symlink():
                report.problems.append(f"{_shown(name)}: a symbolic link, not a file")
            elif item.is_dir():
                report.problems.append(f"{_shown(name)}/: unexpected folder in the package")
            elif not item.is_file():
                report.problems.append(f"{_shown(name)}: not a regular file")
            else:
                self._members[name] = item

    def _scan_zip(self, report: VerifyReport) -> None:
        assert self._zip is not None
        infos = self._zip.infolist()
        if len(infos) > MAX_ENTRIES:
            report.problems.append(f"{self.path.name}: more than {MAX_ENTRIES} entries")
            return
        files: list[zipfile.ZipInfo] = []
        for info in infos:
            name = info.filename
            problem = _name_problem(name)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if problem is None and kind == stat.S_IFLNK:
                problem = "a symbolic link, not a file"
            if problem is None and info.flag_bits & 0x1:
                problem = "an encrypted entry"
            if problem is None and info.compress_type not in (
                zipfile.ZIP_STORED,
                zipfile.ZIP_DEFLATED,
            ):
                problem = f"compression method {info.compress_type} (only stored or deflate)"
            if problem is None and info.file_size > MAX_INFLATION * max(1, info.compress_size):
                problem = "inflates too much (a zip bomb?)"
            if problem is not None:
                report.problems.append(f"{_shown(name)}: {problem}")
                self.refused.add(name)
            elif not info.is_dir():
                files.append(info)
        for name, copies in Counter(i.filename for i in files).items():
            if copies > 1:
                report.problems.append(
                    f"{_shown(name)}: appears {copies} times in the zip (tools disagree on "
                    "which copy they show)"
                )
        tops = {i.filename.split("/", 1)[0] for i in files}
        strip = len(tops) == 1 and all("/" in i.filename for i in files)
        for info in infos:
            folder = info.filename.rstrip("/")
            if (
                info.is_dir()
                and info.filename not in self.refused
                and not (strip and folder in tops)
            ):
                report.problems.append(f"{_shown(folder)}/: unexpected folder in the package")
        duplicated = {n for n, c in Counter(i.filename for i in files).items() if c > 1}
        for info in files:
            name = info.filename.split("/", 1)[1] if strip else info.filename
            if info.filename in duplicated:
                self.refused.add(name)
            elif "/" in name:
                report.problems.append(f"{_shown(info.filename)}: unexpected entry in a sub-folder")
            else:
                self._members[name] = info

    def names(self) -> list[str]:
        return list(self._members)

    def size(self, name: str) -> int:
        member = self._members[name]
        return member.file_size if isinstance(member, zipfile.ZipInfo) else member.stat().st_size

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        member = self._members[name]
        if isinstance(member, zipfile.ZipInfo):
            assert self._zip is not None
            with self._zip.open(member) as stream:
                yield stream
        else:
            with member.open("rb") as file:
                yield file

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def sha256_of(stream: IO[bytes], limit: int) -> tuple[str, int]:
    """SHA-256 and length of at most ``limit`` + 1 bytes of ``stream`` (one byte more
    than allowed is enough to know it is too long)."""
    digest = hashlib.sha256()
    size = 0
    while size <= limit and (chunk := stream.read(min(_CHUNK, limit + 1 - size))):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def verify_package(path: Path, trusted_fingerprint: str | None = None) -> VerifyReport:
    """Check the package's shape, the signature of the manifest and every file's size
    and SHA-256. Each problem names the file it concerns. Blocking."""
    report = VerifyReport()
    try:
        files = _Files(path, report)
    except _ZIP_ERRORS as exc:
        report.problems.append(f"{path.name}: not a readable package folder or zip ({exc})")
        return report
    try:
        _verify(files, report, trusted_fingerprint)
    except _ZIP_ERRORS as exc:
        report.problems.append(f"{path.name}: damaged zip ({exc})")
    finally:
        files.close()
    return report


def _read_small(files: _Files, name: str, report: VerifyReport) -> bytes | None:
    if name in files.refused:
        return None  # already reported
    if name not in files.names():
        report.problems.append(f"{name}: missing")
        return None
    limit = SMALL_FILES[name]
    if files.size(name) > limit:
        report.problems.append(f"{name}: larger than {limit} bytes")
        return None
    try:
        with files.open(name) as stream:
            data = stream.read(limit + 1)
    except _ZIP_ERRORS as exc:
        report.problems.append(f"{name}: unreadable ({exc})")
        return None
    if len(data) > limit:
        report.problems.append(f"{name}: larger than {limit} bytes")
        return None
    return data


def _listed_files(manifest_bytes: bytes, report: VerifyReport) -> tuple[dict[str, Any], str] | None:
    """The manifest's ``{name: entry}`` and claimed key fingerprint, checked for shape."""
    try:
        manifest = json.loads(manifest_bytes)
        entries = manifest["files"]
        claimed = manifest["signing_key"]["fingerprint"]
        if not isinstance(entries, list) or not isinstance(claimed, str):
            raise TypeError("files must be a list and the fingerprint a string")
        listed: dict[str, Any] = {}
        for entry in entries:
            name, size, digest = entry["name"], entry["bytes"], entry["sha256"]
            if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name):
                raise ValueError(f"file name {_shown(str(name))} is not a plain file name")
            if name in listed or name in SMALL_FILES:
                raise ValueError(f"file {name} is listed twice")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise TypeError(f"file {name}: bytes must be a whole number")
            if not isinstance(digest, str):
                raise TypeError(f"file {name}: sha256 must be a string")
            listed[name] = entry
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        report.problems.append(f"{MANIFEST}: not a vms manifest ({exc})")
        return None
    return listed, claimed


def _verify(files: _Files, report: VerifyReport, trusted: str | None) -> None:
    manifest_bytes = _read_small(files, MANIFEST, report)
    signature = _read_small(files, SIGNATURE, report)
    pem = _read_small(files, PUBLIC_KEY, report)
    public_key = None
    if pem is not None:
        try:
            public_key = load_public_pem(pem)
        except (ValueError, TypeError) as exc:
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
    found = _listed_files(manifest_bytes, report)
    if found is None:
        return
    listed, claimed = found
    if report.fingerprint is not None and claimed != report.fingerprint:
        report.problems.append(
            f"{PUBLIC_KEY}: fingerprint {report.fingerprint} differs from the manifest's "
            f"{_shown(claimed)}"
        )
    for name, entry in listed.items():
        if name in files.refused:
            continue  # already reported
        if name not in files.names():
            report.problems.append(f"{name}: missing")
            continue
        if files.size(name) != entry["bytes"]:
            report.problems.append(
                f"{name}: {files.size(name)} bytes, the manifest says {entry['bytes']}"
            )
            continue
        try:
            with files.open(name) as stream:
                digest, size = sha256_of(stream, entry["bytes"])
        except _ZIP_ERRORS as exc:
            report.problems.append(f"{name}: unreadable ({exc})")
            continue
        if size != entry["bytes"]:
            report.problems.append(f"{name}: {size} bytes, the manifest says {entry['bytes']}")
        elif digest != entry["sha256"]:
            report.problems.append(f"{name}: SHA-256 differs from the manifest")
        else:
            report.checked.append(name)
    for name in files.names():
        if name not in listed and name not in SMALL_FILES:
            report.problems.append(f"{_shown(name)}: not listed in the manifest")
