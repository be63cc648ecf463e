"""Reads pushed by ANPR cameras on the signed webhook; fuzzy search; hotlist management."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import vms_plugin_lpr
from vms_sdk import Camera, HttpResponse, Severity
from vms_sdk.testing import PluginTestHost

SECRET = "0123456789abcdef-secret"
CAMERAS = [Camera("cam1", "Main St"), Camera("cam2", "Elm St")]


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Signature": f"sha256={signature}"}


async def push(host: PluginTestHost, **read: Any) -> HttpResponse:
    raw, headers = signed(read)
    response = await host.request("POST", "/webhook", body=raw, headers=headers)
    await host.wait_submitted()  # events go out through ctx.submit
    return response


async def search(host: PluginTestHost, **query: str) -> list[dict[str, Any]]:
    response = await host.request("GET", "/reads", query=query)
    assert response.status == 200, response.decoded_json()
    reads: list[dict[str, Any]] = response.decoded_json()["reads"]
    return reads


def started(tmp: Path, **config: Any) -> PluginTestHost:
    return PluginTestHost(
        vms_plugin_lpr.LprPlugin, {"webhook_secret": SECRET, **config}, CAMERAS, data_dir=tmp
    )


async def test_fuzzy_search_finds_the_plate_despite_ocr_confusions(tmp_path: Path) -> None:
    async with started(tmp_path) as host:
        for plate, camera, time in [
            ("ABC1234", "cam1", "2026-05-01T12:00:00Z"),
            ("XYZ9876", "cam1", "2026-05-01T12:05:00Z"),
            ("ABC1234", "cam2", "2026-05-01T13:00:00Z"),
            ("KBC1239", "cam2", "2026-05-01T13:10:00Z"),
        ]:
            assert (await push(host, plate=plate, camera=camera, time=time)).status == 201
        fuzzy = await search(host, plate="A8C1234")
        assert [(r["plate"], r["camera"], r["match"]) for r in fuzzy] == [
            ("ABC1234", "cam2", "fuzzy"),
            ("ABC1234", "cam1", "fuzzy"),
        ]
        assert {r["match"] for r in await search(host, plate="abc-1234")} == {"exact"}
        # Partial: any plate containing the characters, confusions folded (S/5, B/8).
        assert {r["plate"] for r in await search(host, plate="8C123")} == {"ABC1234", "KBC1239"}
        assert await search(host, plate="QQQ999") == []
        # Time range and camera narrow it down.
        only = await search(host, plate="ABC1234", since="2026-05-01T12:30:00Z", camera="cam2")
        assert [r["camera"] for r in only] == ["cam2"]
        early = await search(host, until="2026-05-01T12:10:00Z")
        assert [r["plate"] for r in early] == ["XYZ9876", "ABC1234"]
        bad = await host.request("GET", "/reads", query={"since": "yesterday"})
        assert bad.status == 400


async def test_webhook_refuses_bad_signatures_and_merges_repeats(tmp_path: Path) -> None:
    async with started(tmp_path) as host:
        raw, _ = signed({"plate": "ABC1234", "camera": "cam1"})
        _, wrong = signed({"plate": "ABC1234", "camera": "cam1"}, secret="another-secret-1234")
        assert (await host.request("POST", "/webhook", body=raw, headers=wrong)).status == 401
        assert (await host.request("POST", "/webhook", body=raw)).status == 401
        assert await search(host) == []
        _, jpeg = cv2.imencode(".jpg", np.full((30, 100, 3), 200, np.uint8))
        image = base64.b64encode(jpeg.tobytes()).decode()
        first = await push(
            host, plate="abc 1234", camera="cam1", time="2026-05-01T12:00:00Z", image=image
        )
        again = await push(host, plate="ABC1234", camera="cam1", time="2026-05-01T12:00:20Z")
        assert first.status == again.status == 201
        assert first.decoded_json()["id"] == again.decoded_json()["id"]
        (read,) = await search(host)
        assert read["sightings"] == 2 and read["source"] == "webhook"
        crop = await host.request("GET", f"/reads/{read['id']}/crop")
        assert crop.status == 200 and crop.body[:2] == b"\xff\xd8"
        # Not a plate, and an unknown camera, are refused.
        assert (await push(host, plate="HELLO", camera="cam1")).status == 400
        assert (await push(host, plate="ABC1234", camera="cam9")).status == 404
        assert [e.type for e in host.events] == ["lpr.read"]


async def test_webhook_is_off_without_a_secret(tmp_path: Path) -> None:
    async with PluginTestHost(vms_plugin_lpr.LprPlugin, {}, CAMERAS, data_dir=tmp_path) as host:
        raw, headers = signed({"plate": "ABC1234", "camera": "cam1"})
        assert (await host.request("POST", "/webhook", body=raw, headers=headers)).status == 503
        webhook = next(r for r in host.routes if r.path == "/webhook")
        assert webhook.public and not any(r.public for r in host.routes if r is not webhook)


async def test_hotlists_from_csv_and_api_produce_hits(tmp_path: Path) -> None:
    csv = tmp_path / "amber.csv"
    csv.write_text("KBC1239\n")  # no header: the plate in the first column
    async with started(tmp_path / "d", hotlists={"amber": str(csv)}) as host:
        added = await host.request(
            "POST", "/hotlists/stolen", json={"plate": "xyz-9876", "reason": "stolen car"}
        )
        assert added.status == 201
        listed = (await host.request("GET", "/hotlists")).decoded_json()["entries"]
        assert {(e["list"], e["plate"], e["origin"]) for e in listed} == {
            ("amber", "KBC1239", "csv"),
            ("stolen", "XYZ9876", "api"),
        }
        await push(host, plate="XYZ9B76", camera="cam2")  # misread 8 as B: still a hit
        await push(host, plate="KBC1239", camera="cam1")
        await push(host, plate="ABC1234", camera="cam1")
        hits = [e for e in host.events if e.type == "lpr.hotlist_hit"]
        assert [(h.data["list"], h.data["plate"], h.data["match"]) for h in hits] == [
            ("stolen", "XYZ9B76", "fuzzy"),
            ("amber", "KBC1239", "exact"),
        ]
        assert all(h.severity is Severity.HIGH for h in hits)
        assert hits[0].data["reason"] == "stolen car" and hits[0].camera_ids == ("cam2",)
        gone = await host.request("DELETE", "/hotlists/stolen/XYZ9876")
        assert gone.status == 204
        await push(host, plate="XYZ9876", camera="cam1")
        assert len([e for e in host.events if e.type == "lpr.hotlist_hit"]) == 2


async def test_bad_settings_are_refused_with_the_key() -> None:
    import pytest
    from vms_sdk import ConfigError

    for config, key in [
        ({"fps": 0}, "fps"),
        ({"webhook_secret": "short"}, "webhook_secret"),
        ({"hotlists": {"x": "/nonexistent.csv"}}, "hotlists.x"),
        ({"colour": "red"}, "colour"),
    ]:
        with pytest.raises(ConfigError) as caught:
            async with PluginTestHost(vms_plugin_lpr.LprPlugin, config, CAMERAS):
                pass
        assert caught.value.key == key
