"""Reading is defensive: a row an older server (or a hand edit) left in the catalog that is
out of range never makes a listing answer 500 for everyone; it is skipped or clamped, and
logged once."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.conftest import bearer
from vms_core.db.models import Event as EventRow
from vms_core.timeutil import to_us

# What the old server stored for an event or export at 9999-12-31T23:59:59.999999Z.
END_OF_TIME_US = 253402300799999999


async def test_stored_events_out_of_range_do_not_break_the_listing_or_the_stream(
    make_server, http, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    srv = await make_server()
    good = {"uid": "good", "type": "test.good", "time_us": 1_700_000_000_000_000}
    rows = [
        good,
        {"uid": "far", "type": "test.far", "time_us": END_OF_TIME_US},
        {"uid": "beyond", "type": "test.beyond", "time_us": 2**62},
        {"uid": "bad-severity", "type": "test.sev", "time_us": 1, "severity": "apocalyptic"},
    ]
    async with srv.server.db.session() as session:
        for row in rows:
            await session.execute(
                insert(EventRow).values(
                    severity=row.get("severity", "info"),
                    source="old",
                    camera_ids=[],
                    data={},
                    **{k: v for k, v in row.items() if k != "severity"},
                )
            )
    admin = await srv.admin_token()
    for _ in range(2):
        async with http.get(srv.url + "/api/events", headers=bearer(admin)) as r:
            assert r.status == 200, await r.text()
            listed = {e["id"]: e["time"] for e in await r.json()}
    # In datetime's range: shown as stored. Beyond it, or unreadable: skipped.
    assert listed == {"far": "9999-12-31T23:59:59.999Z", "good": "2023-11-14T22:13:20.000Z"}
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2, [r.getMessage() for r in skipped]  # once per row, not per read
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Live streams keep going after an event at the edge of the range.
    async with http.get(srv.url + "/api/events/stream", headers=bearer(admin)) as stream:
        assert (await stream.content.readline()).startswith(b": connected")
        async with http.post(
            srv.url + "/api/events",
            headers=bearer(admin),
            json={"type": "test.edge", "time": "9998-12-31T23:59:59.999999Z"},
        ) as r:
            assert r.status == 201, await r.text()
        async with http.post(
            srv.url + "/api/events", headers=bearer(admin), json={"type": "test.next"}
        ) as r:
            assert r.status == 201
        seen = []
        while len(seen) < 2:
            line = await stream.content.readline()
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:])["type"])
    assert seen == ["test.edge", "test.next"]


async def test_an_export_job_stored_at_the_end_of_time_lists_after_a_restart(
    make_server, http, tmp_path: Path
) -> None:
    job = {
        "id": "0123456789abcdef",
        "cameras": [[1, "north"]],
        "start_us": END_OF_TIME_US - 3_600_000_000,
        "end_us": END_OF_TIME_US,
        "reason": "stored by an older server",
        "created_by": "olga",
        "created_us": to_us(datetime(2025, 1, 1, tzinfo=UTC)),
        "state": "queued",
        "progress": 0.0,
        "error": None,
        "files": [],
        "package": None,
        "finished_us": None,
    }
    folder = tmp_path / "data" / "exports" / job["id"]
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps(job))
    srv = await make_server()
    admin = await srv.admin_token()
    async with http.get(srv.url + "/api/exports", headers=bearer(admin)) as r:
        assert r.status == 200, await r.text()
        jobs = await r.json()
    assert [(j["id"], j["end"], j["state"]) for j in jobs] == [
        (job["id"], "9999-12-31T23:59:59.999Z", "failed")
    ]
