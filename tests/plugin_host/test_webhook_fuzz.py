"""Fuzzing the public webhooks of the built-in plug-ins through a real server.

The gunshot alert webhook and the LPR read webhook take bodies and signatures from anyone
on the network. Whatever arrives (garbage, valid JSON of the wrong shape, out-of-range
values, deep nesting, odd header bytes), the answer is a 2xx or a 4xx, never a 5xx, and
the plug-in stays healthy: a client's bad input never counts as the plug-in's failure.
Most bodies are signed correctly, so the fuzzing reaches the parsing behind the signature.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vms_plugin_gunshot.webhook import sign

from tests.conftest import BASE_CONFIG
from vms_core.config import parse_config
from vms_core.server import VmsServer

GUNSHOT_SECRET = "correct horse battery staple"
LPR_SECRET = "0123456789abcdef-secret"
CONFIG = f"""
[[cameras]]
name = "corner"
rtsp_url = "rtsp://127.0.0.1:1/corner"
enabled = false
lat = 41.8810
lon = -87.6630

[plugins.gunshot]
secret = "{GUNSHOT_SECRET}"
audio_detection = false

[plugins.lpr]
webhook_secret = "{LPR_SECRET}"
cameras = []
"""
# A hang guard per input: a request takes milliseconds; the deadline is far above that.
FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class ServerThread:
    """A real server on an event loop of its own, so Hypothesis can drive it synchronously."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: VmsServer | None = None

    def start(self) -> str:
        self.thread.start()
        text = BASE_CONFIG + CONFIG
        settings_ = parse_config(text, source=str(self.base / "vms.toml"), base_dir=self.base)
        self.server = VmsServer(settings_, None, record=False)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(60)
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def health(self, plugin: str) -> dict[str, Any]:
        assert self.server is not None
        (status,) = [s for s in self.server.plugins.manager.list() if s.name == plugin]
        return {"state": status.state, **status.health.as_dict()}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VMS_PLUGINS", "gunshot,lpr")
        server = ServerThread(tmp_path_factory.mktemp("fuzz"))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
odd_times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999-14:00",
            "9999-12-31T23:59:59.999999Z",
            "2026-13-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "",
        ]
    ),
    json_values,
)
header_text = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=80)


def gunshot_alert(now: float) -> st.SearchStrategy[dict[str, Any]]:
    fields = {
        "id": st.one_of(st.text(min_size=1, max_size=200), json_values),
        "time": odd_times,
        "lat": st.one_of(st.floats(-100, 100), json_values),
        "lon": st.one_of(st.floats(-200, 200), json_values),
        "address": st.one_of(st.text(max_size=600), json_values),
        "rounds": st.one_of(st.integers(-5, 2000), json_values),
        "confidence": st.one_of(st.floats(-1, 2), json_values),
    }
    return st.fixed_dictionaries({}, optional=fields)


def bodies(shape: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        shape.map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=300),
        st.integers(1, 20_000).map(lambda n: b'{"id": ' + b"[" * n + b"]" * n + b"}"),
    )


@FUZZ
@given(
    body=bodies(gunshot_alert(time.time())),
    signing=st.sampled_from(["valid", "valid", "valid", "garbage", "none"]),
    signature=header_text,
    timestamp=header_text,
    json_type=st.booleans(),
)
def test_gunshot_webhook_answers_4xx_to_anything_and_stays_healthy(
    running: ServerThread,
    body: bytes,
    signing: str,
    signature: str,
    timestamp: str,
    json_type: bool,
) -> None:
    headers = {"Content-Type": "application/json" if json_type else "application/octet-stream"}
    if signing == "valid":
        now = int(time.time())
        headers["X-Gunshot-Timestamp"] = str(now)
        headers["X-Gunshot-Signature"] = sign(GUNSHOT_SECRET, now, body)
    elif signing == "garbage":
        headers["X-Gunshot-Timestamp"] = timestamp
        headers["X-Gunshot-Signature"] = signature
    assert running.server is not None
    status = post(running.server.url + "/api/plugins/gunshot/alerts", body, headers)
    assert status < 500, (status, body[:200], headers)
    health = running.health("gunshot")
    assert health["state"] == "running" and health["errors"] == 0, health


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def lpr_read() -> st.SearchStrategy[dict[str, Any]]:
    """A read with a valid plate and camera, and any of the fields replaced by odd values."""
    valid = {"plate": "ABC1234", "camera": "1"}
    fields = {
        "plate": st.one_of(st.text(max_size=20), json_values),
        "camera": st.one_of(st.text(max_size=70), json_values),
        "time": odd_times,
        "confidence": st.one_of(st.floats(-1, 2), st.integers(-(2**1100), 2**1100), json_values),
        "source": st.one_of(st.text(max_size=80), json_values),
        "image": st.one_of(st.text(max_size=40), st.binary(max_size=60).map(_b64), json_values),
    }
    odd = st.fixed_dictionaries({}, optional=fields)
    return odd.map(lambda changes: {**valid, **changes})


@FUZZ
@given(
    body=bodies(lpr_read()),
    signing=st.sampled_from(["valid", "valid", "valid", "garbage", "none"]),
    signature=header_text,
    json_type=st.booleans(),
)
def test_lpr_webhook_answers_4xx_to_anything_and_stays_healthy(
    running: ServerThread, body: bytes, signing: str, signature: str, json_type: bool
) -> None:
    headers = {"Content-Type": "application/json" if json_type else "application/octet-stream"}
    if signing == "valid":
        digest = hmac.new(LPR_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Signature"] = f"sha256={digest}"
    elif signing == "garbage":
        headers["X-Signature"] = signature
    assert running.server is not None
    status = post(running.server.url + "/api/plugins/lpr/webhook", body, headers)
    assert status < 500, (status, body[:200], headers)
    health = running.health("lpr")
    assert health["state"] == "running" and health["errors"] == 0, health
