"""Evidence export over HTTP: a job with progress, a signed zip, `vms export verify`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.media.mediatools import decode_errors, probe
from tests.playback.recorded import (
    RecordingSite,
    clock_seconds,
    first_clock,
    minute_difference,
    seconds_of_minute,
)
from vms_core.exports.signing import KEY_FILE
from vms_core.timeutil import iso, parse_time

VMS = [sys.executable, "-c", "import sys; from vms_core.cli import main; sys.exit(main())"]


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VMS, "export", "verify", str(path)], capture_output=True, text=True, timeout=60
    )


async def run_export(
    site: RecordingSite, token: str, cameras: list[int], start: int, end: int
) -> tuple[dict[str, Any], list[float]]:
    """POST the export and poll it until it finishes: (final job, progress values seen)."""
    body = {"cameras": cameras, "start": iso(start), "end": iso(end), "reason": "case 24-118"}
    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.post(f"{site.url}/api/exports", json=body) as response:
            assert response.status == 202, await response.text()
            job = await response.json()
        seen = [job["progress"]]
        async with asyncio.timeout(60):
            while job["state"] not in ("done", "failed"):
                await asyncio.sleep(0.05)
                async with http.get(f"{site.url}/api/exports/{job['id']}") as response:
                    assert response.status == 200
                    job = await response.json()
                    seen.append(job["progress"])
    return job, seen


async def download(site: RecordingSite, token: str, job_id: str, out: Path) -> int:
    url = f"{site.url}/api/exports/{job_id}/package"
    async with aiohttp.ClientSession(headers=bearer(token)) as http, http.get(url) as response:
        if response.status == 200:
            out.write_bytes(await response.read())
        return response.status


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def export_range(site: RecordingSite) -> tuple[int, int]:
    """6 s that the north and south cameras recorded, across at least two segments of each,
    and that start well inside a segment (so the keyframe before the start is recorded)."""
    closed = [
        [(s.start_us, s.end_us) for s in site.segments(name) if s.end_us is not None]
        for name in ("north", "south")
    ]
    start = max(row[1][0] for row in closed) - 2_000_000
    while start < min(row[-1][1] for row in closed):
        end = start + 6_000_000
        fits = all(
            any(a + 600_000 <= start < b for a, b in row)
            and sum(1 for a, b in row if a < end and b > start) >= 2
            and end <= row[-1][1]
            for row in closed
        )
        if fits:
            return start, end
        start += 250_000
    raise AssertionError(f"no common recorded range in {closed}")


async def test_export_of_two_cameras_verifies_and_any_changed_byte_is_named(
    site: RecordingSite, tmp_path: Path
) -> None:
    operator = await asyncio.to_thread(
        site.token, "investigator", "operator", list(site.camera_ids.values())
    )
    ids = [site.camera_ids["north"], site.camera_ids["south"]]
    start, end = export_range(site)
    job, progress = await run_export(site, operator, ids, start, end)
    assert job["state"] == "done", job["error"]
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)
    assert job["progress"] == 1
    zip_path = tmp_path / "package.zip"
    assert await download(site, operator, job["id"], zip_path) == 200

    result = verify(zip_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "package verifies" in result.stdout

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    (package,) = list(folder.iterdir())
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["created_by"] == "investigator" and manifest["reason"] == "case 24-118"
    assert manifest["range"] == {"start": iso(start), "end": iso(end)}
    assert [c["id"] for c in manifest["cameras"]] == ids
    videos = [c["file"] for c in manifest["cameras"]]
    assert {f["name"] for f in manifest["files"]} >= set(videos)
    for camera, video in zip(("north", "south"), videos, strict=True):
        path = package / video
        assert decode_errors(path) == ""
        info = probe(path)
        first = parse_time(manifest["cameras"][videos.index(video)]["first_picture"])
        assert start - 600_000 <= first <= start
        assert abs(info.duration - (end - first) / 1e6) <= 1.0
        head = path.read_bytes()[:64]
        assert head[4:8] == b"ftyp" and b"moov" in path.read_bytes()[: 64 * 1024], "faststart"
        clock = first_clock(path)
        assert clock is not None
        assert minute_difference(clock_seconds(clock), seconds_of_minute(first)) <= 0.15, camera

    # The folder form verifies too; then each changed file is named.
    assert verify(package).returncode == 0
    for name in [videos[0], videos[1], "manifest.json", "manifest.sig", "public_key.pem"]:
        copy = tmp_path / f"tampered-{name}"
        shutil.copytree(package, copy)
        size = (copy / name).stat().st_size
        flip_byte(copy / name, size // 2)
        result = verify(copy)
        assert result.returncode == 1, name
        failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        assert failed and any(name in line for line in failed), (name, result.stdout)

    # A changed byte inside the zip itself is named too.
    with zipfile.ZipFile(zip_path) as archive:
        member = next(i for i in archive.infolist() if i.filename.endswith(videos[1]))
    damaged = tmp_path / "damaged.zip"
    shutil.copy(zip_path, damaged)
    flip_byte(damaged, member.header_offset + 30 + len(member.filename) + 1000)
    result = verify(damaged)
    assert result.returncode == 1 and videos[1] in result.stdout


async def test_signing_key_is_private_and_published(site: RecordingSite, tmp_path: Path) -> None:
    assert site.server is not None
    operator = await asyncio.to_thread(
        site.token, "key-reader", "operator", list(site.camera_ids.values())
    )
    start, end = export_range(site)
    job, _ = await run_export(site, operator, [site.camera_ids["north"]], start, end)
    assert job["state"] == "done"
    key_file = site.server.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    url = f"{site.url}/api/exports/signing-key"
    async with aiohttp.ClientSession(headers=bearer(operator)) as http, http.get(url) as response:
        published = await response.json()
    zip_path = tmp_path / "p.zip"
    assert await download(site, operator, job["id"], zip_path) == 200
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("manifest.json"))
        manifest = json.loads(archive.read(name))
    assert manifest["signing_key"]["fingerprint"] == published["fingerprint"]
    # Pinning the published fingerprint passes; another one fails, naming the key file.
    pinned = [*VMS, "export", "verify", str(zip_path), "--fingerprint"]
    ok = subprocess.run([*pinned, published["fingerprint"]], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run([*pinned, "SHA256:" + "0" * 64], capture_output=True, text=True)
    assert bad.returncode == 1 and "public_key.pem" in bad.stdout


async def test_exports_are_for_operators_on_their_cameras_and_audited(
    site: RecordingSite, tmp_path: Path
) -> None:
    north, south = site.camera_ids["north"], site.camera_ids["south"]
    viewer = await asyncio.to_thread(site.token, "watcher", "viewer", [north])
    limited = await asyncio.to_thread(site.token, "limited", "operator", [north])
    other = await asyncio.to_thread(site.token, "other-op", "operator", [north, south])
    admin = await asyncio.to_thread(site.admin_token)
    start, end = export_range(site)
    body = {"cameras": [north], "start": iso(start), "end": iso(end), "reason": "r"}
    async with aiohttp.ClientSession() as http:
        url = f"{site.url}/api/exports"
        async with http.post(url, json=body, headers=bearer(viewer)) as response:
            assert response.status == 403
        hidden = {**body, "cameras": [south]}
        async with http.post(url, json=hidden, headers=bearer(limited)) as response:
            assert response.status == 400
            assert f"no camera {south}" in (await response.json())["error"]["message"]
    job, _ = await run_export(site, limited, [north], start, end)
    assert job["state"] == "done"
    async with aiohttp.ClientSession() as http:
        job_url = f"{site.url}/api/exports/{job['id']}"
        async with http.get(job_url, headers=bearer(other)) as response:
            assert response.status == 404, "another operator's export is not theirs to see"
        async with http.get(job_url, headers=bearer(admin)) as response:
            assert response.status == 200
    assert await download(site, limited, job["id"], tmp_path / "x.zip") == 200
    async with (
        aiohttp.ClientSession(headers=bearer(admin)) as http,
        http.get(f"{site.url}/api/audit", params={"action": "export."}) as response,
    ):
        entries = await response.json()
    mine = [e for e in entries if e["target"] == f"export:{job['id']}"]
    assert {e["action"] for e in mine} == {"export.create", "export.done", "export.download"}
    assert all(e["username"] == "limited" for e in mine)


@pytest.mark.parametrize("reason", [""])
async def test_an_export_without_a_reason_is_refused(site: RecordingSite, reason: str) -> None:
    operator = await asyncio.to_thread(
        site.token, "no-reason", "operator", [site.camera_ids["north"]]
    )
    start, end = export_range(site)
    body = {"cameras": [site.camera_ids["north"]], "start": iso(start), "end": iso(end)}
    async with (
        aiohttp.ClientSession(headers=bearer(operator)) as http,
        http.post(f"{site.url}/api/exports", json={**body, "reason": reason}) as response,
    ):
        assert response.status == 400
        assert "reason" in (await response.json())["error"]["message"]


async def test_an_export_follows_its_owner_by_id_and_their_cameras(
    site: RecordingSite, tmp_path: Path
) -> None:
    """Item 10 of issue #15: losing the camera loses the export; a user re-created under
    the same name is someone else and inherits nothing."""
    north, south = site.camera_ids["north"], site.camera_ids["south"]
    admin = await asyncio.to_thread(site.admin_token)
    keeper = await asyncio.to_thread(site.token, "keeper", "operator", [north, south])
    start, end = export_range(site)
    job, _ = await run_export(site, keeper, [north], start, end)
    assert job["state"] == "done"
    assert await download(site, keeper, job["id"], tmp_path / "k.zip") == 200

    async with aiohttp.ClientSession(headers=bearer(admin)) as http:
        async with http.get(f"{site.url}/api/users") as r:
            ids = {u["username"]: u["id"] for u in await r.json()}
        user_url = f"{site.url}/api/users/{ids['keeper']}"
        async with http.patch(user_url, json={"cameras": [south]}) as r:
            assert r.status == 200
    async with aiohttp.ClientSession(headers=bearer(keeper)) as http:
        async with http.get(f"{site.url}/api/exports/{job['id']}") as r:
            assert r.status == 404, "the camera is gone for keeper, and so is its export"
        async with http.get(f"{site.url}/api/exports") as r:
            assert job["id"] not in {j["id"] for j in await r.json()}
    assert await download(site, keeper, job["id"], tmp_path / "k2.zip") == 404

    # Deleted and re-created under the same name: a different user.
    ghost = await asyncio.to_thread(site.token, "phoenix", "operator", [north])
    mine, _ = await run_export(site, ghost, [north], start, end)
    async with aiohttp.ClientSession(headers=bearer(admin)) as http:
        async with http.get(f"{site.url}/api/users") as r:
            (phoenix,) = [u["id"] for u in await r.json() if u["username"] == "phoenix"]
        async with http.delete(f"{site.url}/api/users/{phoenix}") as r:
            assert r.status == 200
    reborn = await asyncio.to_thread(site.token, "phoenix", "operator", [north])
    async with aiohttp.ClientSession(headers=bearer(reborn)) as http:
        async with http.get(f"{site.url}/api/exports/{mine['id']}") as r:
            assert r.status == 404
        async with http.get(f"{site.url}/api/exports") as r:
            assert await r.json() == []
    assert await download(site, reborn, mine["id"], tmp_path / "p.zip") == 404
    async with (
        aiohttp.ClientSession(headers=bearer(admin)) as http,
        http.get(f"{site.url}/api/exports/{mine['id']}") as r,
    ):
        assert r.status == 200 and (await r.json())["created_by"] == "phoenix"


async def test_a_duplicate_entry_in_a_real_package_does_not_verify(
    site: RecordingSite, tmp_path: Path
) -> None:
    """Item 11 of issue #15: a tampered MP4 placed before the original in the zip."""
    operator = await asyncio.to_thread(
        site.token, "dup-checker", "operator", [site.camera_ids["north"]]
    )
    start, end = export_range(site)
    job, _ = await run_export(site, operator, [site.camera_ids["north"]], start, end)
    original = tmp_path / "original.zip"
    assert await download(site, operator, job["id"], original) == 200
    with zipfile.ZipFile(original) as archive:
        entries = [(i.filename, archive.read(i)) for i in archive.infolist()]
    video_name, video = next((n, b) for n, b in entries if n.endswith(".mp4"))
    tampered = bytearray(video)
    tampered[len(tampered) // 2] ^= 0xFF
    doctored = tmp_path / "doctored.zip"
    with zipfile.ZipFile(doctored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(video_name, bytes(tampered))
        with pytest.warns(UserWarning, match="Duplicate name"):
            for name, data in entries:
                archive.writestr(name, data)
    result = verify(doctored)
    assert result.returncode == 1, result.stdout
    assert "appears 2 times" in result.stdout and video_name in result.stdout
