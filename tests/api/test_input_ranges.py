"""One range for times, ids and numbers at the API edge: out-of-range input is a 400 (or a
404 for a path id) that names the field, stores nothing, and leaves every listing working."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import bearer

CAMERA = """
[onvif]
listen_for_hello = false
events = false
[[cameras]]
name = "north"
rtsp_url = "rtsp://127.0.0.1:1/north"
"""
FAR = "9999-12-31T23:59:59.999999Z"
TOO_BIG_ID = str(2**64)


@pytest.fixture
def no_errors(caplog: pytest.LogCaptureFixture):
    """Fails the test if the server logged an ERROR: bad input is the client's problem."""
    caplog.set_level(logging.WARNING)
    yield caplog
    # In teardown caplog.records holds only teardown's records: ask for the test's own.
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, errors


async def _status(
    http, method: str, url: str, token: str, headers: dict | None = None, **kw
) -> tuple[int, dict]:
    async with http.request(method, url, headers={**bearer(token), **(headers or {})}, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else {}
        return r.status, body


def _message(body: dict) -> str:
    return body["error"]["message"]


async def test_an_event_at_the_end_of_time_is_refused_and_listing_still_works(
    make_server, http, no_errors
) -> None:
    srv = await make_server(CAMERA)
    operator = await srv.token("olga", "operator")
    status, body = await _status(
        http, "POST", srv.url + "/api/events", operator, json={"type": "test.far", "time": FAR}
    )
    assert status == 400, body
    assert _message(body).startswith("time:")
    status, events = await _status(http, "GET", srv.url + "/api/events", operator)
    assert status == 200
    assert [e["type"] for e in events] == []  # refused means not stored either


async def test_an_export_ending_at_the_end_of_time_is_refused(make_server, http, no_errors):
    srv = await make_server(CAMERA)
    operator = await srv.token("olga", "operator", [1])
    start = (datetime(9999, 12, 31, tzinfo=UTC) - timedelta(hours=1)).isoformat()
    status, body = await _status(
        http,
        "POST",
        srv.url + "/api/exports",
        operator,
        json={"cameras": [1], "start": start, "end": FAR, "reason": "case 1"},
    )
    assert status == 400, body
    assert "start:" in _message(body) and "end:" in _message(body)
    admin = await srv.admin_token()
    status, jobs = await _status(http, "GET", srv.url + "/api/exports", admin)
    assert (status, jobs) == (200, [])


async def test_a_lock_over_all_time_is_refused_and_one_ahead_is_bounded(
    make_server, http, no_errors
) -> None:
    srv = await make_server(CAMERA)
    operator = await srv.token("olga", "operator", [1])
    url = srv.url + "/api/bookmarks"
    everything = {
        "cameras": [1],
        "start": "0001-01-01T00:00:00Z",
        "end": "9999-12-31T00:00:00Z",
        "reason": "keep it all",
        "lock": True,
    }
    status, body = await _status(http, "POST", url, operator, json=everything)
    assert status == 400, body
    assert "start:" in _message(body)
    now = datetime.now(UTC)
    ahead = {
        **everything,
        "start": (now - timedelta(days=2)).isoformat(),
        "end": (now + timedelta(days=30)).isoformat(),
    }
    status, body = await _status(http, "POST", url, operator, json=ahead)
    assert status == 400, body
    assert _message(body).startswith("end:") and "24 h" in _message(body)
    # The same range unlocked is a plain bookmark; locking it later meets the same bound.
    status, rows = await _status(http, "POST", url, operator, json={**ahead, "lock": False})
    assert status == 201, rows
    status, body = await _status(
        http, "PATCH", f"{url}/{rows[0]['id']}", operator, json={"locked": True}
    )
    assert status == 400, body
    assert "24 h" in _message(body)
    fine = {**ahead, "end": (now + timedelta(hours=1)).isoformat()}
    status, rows = await _status(http, "POST", url, operator, json=fine)
    assert status == 201, rows
    assert rows[0]["locked"] is True
    status, listed = await _status(http, "GET", url, operator)
    assert status == 200 and len(listed) == 2


PATH_IDS = (
    ("GET", f"/api/cameras/{TOO_BIG_ID}", None),
    ("GET", f"/api/cameras/{TOO_BIG_ID}/recordings", None),
    ("PATCH", f"/api/users/{TOO_BIG_ID}", {"disabled": True}),
    ("DELETE", f"/api/tokens/{TOO_BIG_ID}", None),
    ("PATCH", f"/api/bookmarks/{TOO_BIG_ID}", {"locked": True}),
    ("GET", "/api/cameras/\u00b2", None),
)


async def test_path_ids_beyond_64_bits_are_not_found(make_server, http, no_errors) -> None:
    srv = await make_server(CAMERA)
    admin = await srv.admin_token()
    for method, path, body in PATH_IDS:
        status, answer = await _status(http, method, srv.url + path, admin, json=body)
        assert status == 404, (method, path, answer)
        assert answer["error"]["code"] == "not_found"


QUERIES = (
    ("/api/events?camera=" + TOO_BIG_ID, "camera"),
    ("/api/events?camera=\u00b2", "camera"),
    ("/api/bookmarks?camera=\u00b2", "camera"),
    ("/api/events?since=inf", "since"),
    ("/api/events?until=1e300", "until"),
    ("/api/audit?since=-inf", "since"),
    ("/api/audit?until=nan", "until"),
    ("/api/bookmarks?start=0001-01-01T00:00:00Z", "start"),
    ("/api/bookmarks?locked=maybe", "locked"),
    # Year 11,000 as epoch seconds, and year 9999 just past the range.
    ("/api/cameras/1/recordings?start=0&end=284012524800", "end"),
    ("/api/cameras/1/recordings?end=9999-06-01T00:00:00Z", "end"),
    ("/api/audit?username=a%00b", "username"),
)


async def test_query_parameters_out_of_range_are_400_naming_them(
    make_server, http, no_errors
) -> None:
    srv = await make_server(CAMERA)
    admin = await srv.admin_token()
    for path, field in QUERIES:
        status, body = await _status(http, "GET", srv.url + path, admin)
        assert status == 400, (path, body)
        assert f"query parameter {field}:" in _message(body), (path, body)


BODIES = (
    ("/api/events", {"type": "a.b", "camera_ids": [2**64]}, "camera_ids[0]"),
    ("/api/events", {"type": "a.b", "time": "1969-12-31T23:59:59Z"}, "time"),
    ("/api/events", {"type": "a.b", "time": "2024-01-01T00:00:00"}, "time"),
    ("/api/events", {"type": "a.b", "lat": float("nan")}, "body"),
    (
        "/api/bookmarks",
        {
            "cameras": [2**63],
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-01T00:01:00Z",
            "reason": "r",
        },
        "cameras[0]",
    ),
    (
        "/api/exports",
        {
            "cameras": [-1],
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-01T00:01:00Z",
            "reason": "r",
        },
        "cameras[0]",
    ),
    ("/api/tokens", {"name": "t", "expires_days": 8e307}, "expires_days"),
    ("/api/tokens", {"name": "t", "expires_days": 1e999}, "body"),
    ("/api/tokens", {"name": "t\u0000"}, "name"),
    ("/api/users", {"username": "u1", "password": "long-enough", "cameras": [999]}, "cameras"),
    ("/api/cameras", {"rtsp_url": "rtsp://[::1"}, "rtsp_url"),
    ("/api/cameras", {"rtsp_url": "rtsp://127.0.0.1:99999/x"}, "rtsp_url"),
    ("/api/cameras", {"address": "[::1"}, "onvif_url"),
    ("/api/cameras/1/ptz", {"action": "move", "pan": 0.5, "timeout": 5e-324}, "timeout"),
    ("/api/cameras/1/ptz", {"action": "move", "timeout": 61}, "timeout"),
)


async def test_body_values_out_of_range_are_400_naming_the_field(
    make_server, http, no_errors
) -> None:
    srv = await make_server(CAMERA)
    admin = await srv.admin_token()
    for path, body, field in BODIES:
        status, answer = await _status(
            http,
            "POST",
            srv.url + path,
            admin,
            data=json.dumps(body),  # NaN and Infinity go out as Python writes them
            headers={"Content-Type": "application/json"},
        )
        assert status == 400, (path, body, answer)
        assert _message(answer).startswith(field), (path, body, answer)


async def test_a_user_with_a_camera_that_does_not_exist_is_not_created(make_server, http):
    srv = await make_server(CAMERA)
    admin = await srv.admin_token()
    url = srv.url + "/api/users"
    status, body = await _status(
        http,
        "POST",
        url,
        admin,
        json={"username": "u1", "password": "long-enough", "cameras": [1, 999]},
    )
    assert status == 400 and "999" in _message(body), body
    status, users = await _status(http, "GET", url, admin)
    assert [u["username"] for u in users] == ["admin"]
    status, created = await _status(
        http, "POST", url, admin, json={"username": "u1", "password": "long-enough"}
    )
    assert status == 201
    status, body = await _status(
        http, "PATCH", f"{url}/{created['id']}", admin, json={"cameras": [999]}
    )
    assert status == 400 and "cameras: no camera 999" in _message(body), body


@pytest.mark.parametrize("depth", [33, 100_000])
async def test_deeply_nested_json_is_400_even_before_login(make_server, http, no_errors, depth):
    srv = await make_server()
    nested = "[" * depth + "]" * depth
    async with http.post(
        srv.url + "/api/auth/login",
        data=f'{{"username": "admin", "password": {nested}}}',
        headers={"Content-Type": "application/json"},
    ) as r:
        assert r.status == 400, await r.text()
        assert "nested" in (await r.json())["error"]["message"]
    async with http.post(
        srv.url + "/api/auth/login",
        json={"username": "admin", "password": srv.admin_password},
    ) as r:
        assert r.status == 200


@pytest.mark.allow_error_logs(
    "Exception during reset or similar",
    reason="the server stops while plug-ins still start; the plug-in host cancels a kv call "
    "mid-session (reported to the lead, not the API)",
)
async def test_the_bus_and_bookmarks_hold_plug_ins_and_rules_to_the_same_range(make_server):
    from vms_sdk import Event

    from vms_core.bookmarks import BookmarkError, BookmarkRequest

    srv = await make_server(CAMERA)
    with pytest.raises(ValueError, match=r"^time: a time must be within"):
        await srv.server.events.publish(
            Event(type="plugin.far", time=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
        )
    assert await srv.server.events.query() == []
    now_us = int(datetime.now(UTC).timestamp()) * 1_000_000
    with pytest.raises(BookmarkError, match="24 h"):
        await srv.server.bookmarks.create(
            BookmarkRequest([1], now_us, now_us + 48 * 3_600_000_000, "ahead", lock=True)
        )


async def test_an_export_of_a_range_with_no_recording_fails_without_an_error_log(
    make_server, http, no_errors
) -> None:
    from tests.eventually import eventually

    srv = await make_server(CAMERA)
    operator = await srv.token("olga", "operator", [1])
    now = datetime.now(UTC)
    status, job = await _status(
        http,
        "POST",
        srv.url + "/api/exports",
        operator,
        json={
            "cameras": [1],
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": now.isoformat(),
            "reason": "nothing there",
        },
    )
    assert status == 202, job

    async def finished() -> dict:
        _, current = await _status(http, "GET", f"{srv.url}/api/exports/{job['id']}", operator)
        return current if current["state"] in ("done", "failed") else {}

    # A job with nothing to read finishes in well under a second; 10 s is the hang guard.
    done = await eventually(finished, timeout=10, what="the export job to finish")
    assert done["state"] == "failed" and "no recording" in done["error"]
