"""`vms export verify` against hostile packages (item 11 of issue #15).

A package is built with the server's real signing code and layout (the video is random
bytes: verification never decodes it). Hypothesis then mutates the zip's bytes and its
structure. Verification must never raise and must stay bounded in time per input, and a
package that verifies must give any reader exactly the signed files: no duplicate entry
(a tampered copy before the original passed before), no unexpected entry, no path trick.
"""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vms_core.exports import verify_package
from vms_core.exports.package import MANIFEST, PUBLIC_KEY, SIGNATURE
from vms_core.exports.signing import SigningKey

TOP = "vms-export-0123456789abcdef"
VIDEO = "camera-1-north.mp4"
# A hang guard per input: verifying this package takes milliseconds.
FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def package_files(tmp: Path) -> dict[str, bytes]:
    key = SigningKey.load_or_create(tmp)
    files = {VIDEO: bytes(range(256)) * 16, "README.txt": b"Evidence package.\n"}
    manifest = {
        "format": "vms-evidence-package/1",
        "signing_key": {"algorithm": "Ed25519", "fingerprint": key.fingerprint, "file": PUBLIC_KEY},
        "files": [
            {"name": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
            for n, b in files.items()
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode() + b"\n"
    return {
        MANIFEST: manifest_bytes,
        SIGNATURE: key.sign(manifest_bytes),
        PUBLIC_KEY: key.public_pem(),
        **files,
    }


def write_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], bytes]:
    tmp = tmp_path_factory.mktemp("package")
    files = package_files(tmp)
    zipped = write_zip(tmp / "p.zip", [(f"{TOP}/{n}", b) for n, b in files.items()])
    assert verify_package(zipped).ok
    return files, zipped.read_bytes()


def test_a_duplicate_entry_with_a_tampered_copy_first_does_not_verify(
    original: tuple[dict[str, bytes], bytes], tmp_path: Path
) -> None:
    files, _ = original
    tampered = bytearray(files[VIDEO])
    tampered[1000] ^= 0xFF
    entries = [(f"{TOP}/{VIDEO}", bytes(tampered))] + [(f"{TOP}/{n}", b) for n, b in files.items()]
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = write_zip(tmp_path / "dup.zip", entries)
    report = verify_package(path)
    assert not report.ok
    assert any(p.startswith(f"{TOP}/{VIDEO}: appears 2 times") for p in report.problems)


@FUZZ
@given(data=st.data())
def test_mutated_bytes_never_raise_and_never_verify_changed_files(
    original: tuple[dict[str, bytes], bytes], tmp_path: Path, data: st.DataObject
) -> None:
    files, zipped = original
    raw = bytearray(zipped)
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del raw[at : at + data.draw(st.integers(1, 2000))]
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=64))
        else:
            chunk = data.draw(st.binary(min_size=1, max_size=16))
            raw[at : at + len(chunk)] = chunk
        if not raw:
            raw = bytearray(b"\0")
    path = tmp_path / "mutated.zip"
    path.write_bytes(bytes(raw))
    report = verify_package(path)
    if report.ok:
        # Whatever changed, a reader gets exactly the signed files.
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            assert sorted(n.split("/", 1)[-1] for n in names) == sorted(files)
            for name in names:
                assert archive.read(name) == files[name.split("/", 1)[-1]]


TRICKS = [
    "duplicate-first",
    "duplicate-last",
    "extra",
    "parent",
    "absolute",
    "backslash",
    "drive",
    "subfolder",
    "control",
    "symlink",
    "bomb",
    "encrypted",
    "second-top",
]


@FUZZ
@given(trick=st.sampled_from(TRICKS), target=st.sampled_from([VIDEO, MANIFEST, "README.txt"]))
def test_structural_tricks_never_verify(
    original: tuple[dict[str, bytes], bytes], tmp_path: Path, trick: str, target: str
) -> None:
    files, _ = original
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        (f"{TOP}/{n}", b) for n, b in files.items()
    ]
    odd: str | zipfile.ZipInfo = f"{TOP}/{target}"
    payload = files[target][:-1] + b"!"
    names = {
        "extra": f"{TOP}/notes.txt",
        "parent": f"{TOP}/../{target}",
        "absolute": f"/{TOP}/{target}",
        "backslash": f"{TOP}\\{target}",
        "drive": f"C:{TOP}/{target}",
        "subfolder": f"{TOP}/sub/{target}",
        "control": f"{TOP}/{target}\n",
        "second-top": f"other/{target}",
    }
    if trick in names:
        odd = names[trick]
    elif trick in ("symlink", "encrypted", "bomb"):
        info = zipfile.ZipInfo(f"{TOP}/{target}")
        if trick == "symlink":
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            payload = b"/etc/passwd"
        elif trick == "encrypted":
            info.flag_bits |= 0x1
        else:
            info.compress_type = zipfile.ZIP_DEFLATED
            payload = b"\0" * 5_000_000
        odd = info
        entries = [e for e in entries if e[0] != f"{TOP}/{target}"]
    if trick == "duplicate-last":
        entries.append((odd, payload))
    else:
        entries.insert(0, (odd, payload))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("warnings.warn", lambda *a, **k: None)  # zipfile warns on duplicates
        path = write_zip(tmp_path / "trick.zip", entries)
    report = verify_package(path)
    assert not report.ok, (trick, target)
