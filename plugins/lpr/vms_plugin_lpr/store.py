"""The plug-in's own SQLite database (in ``ctx.data_dir``): reads, plates and hotlists.

Search has to stay fast at millions of reads. Each distinct plate is stored once with its
confusion-folded key; an FTS5 trigram index over the keys answers "contains this" for
any query of 3 or more characters without scanning, and reads are indexed by
(plate, time) so the matching plates' reads come straight off the index.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vms_plugin_lpr.plates import clean, fold

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plates (
    id INTEGER PRIMARY KEY,
    plate TEXT NOT NULL UNIQUE,
    folded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plates_folded ON plates (folded);
CREATE VIRTUAL TABLE IF NOT EXISTS plates_fts USING fts5 (folded, tokenize = 'trigram');
CREATE TABLE IF NOT EXISTS reads (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    plate_id INTEGER NOT NULL REFERENCES plates (id),
    camera TEXT NOT NULL,
    first_us INTEGER NOT NULL,
    last_us INTEGER NOT NULL,
    confidence REAL NOT NULL,
    sightings INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    crop TEXT
);
CREATE INDEX IF NOT EXISTS reads_plate_time ON reads (plate_id, first_us);
CREATE INDEX IF NOT EXISTS reads_time ON reads (first_us);
CREATE INDEX IF NOT EXISTS reads_camera_time ON reads (camera, first_us);
CREATE TABLE IF NOT EXISTS hotlist (
    list TEXT NOT NULL,
    plate TEXT NOT NULL,
    folded TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL,
    PRIMARY KEY (list, plate)
);
CREATE INDEX IF NOT EXISTS hotlist_folded ON hotlist (folded);
"""


def to_us(time: datetime) -> int:
    """Microseconds since the epoch of an aware ``time``."""
    return round(time.timestamp() * 1_000_000)


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


@dataclass(frozen=True, slots=True)
class StoredRead:
    """One read as stored (a vehicle seen by one camera, sightings merged)."""

    uid: str
    plate: str
    camera: str
    first_seen: datetime
    last_seen: datetime
    confidence: float
    sightings: int
    source: str
    crop: str | None

    def as_json(self, match: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.uid,
            "plate": self.plate,
            "camera": self.camera,
            "time": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "confidence": round(self.confidence, 3),
            "sightings": self.sightings,
            "source": self.source,
            "has_crop": self.crop is not None,
        }
        if match is not None:
            out["match"] = match
        return out


@dataclass(frozen=True, slots=True)
class HotlistEntry:
    list: str
    plate: str
    reason: str
    origin: str  # "csv" or "api"

    def as_json(self) -> dict[str, str]:
        return {
            "list": self.list,
            "plate": self.plate,
            "reason": self.reason,
            "origin": self.origin,
        }


_READ_COLUMNS = (
    "r.uid, p.plate, r.camera, r.first_us, r.last_us, r.confidence, r.sightings, r.source, r.crop"
)


class ReadStore:
    """Thread-safe access to the database (one connection, one lock: SQLite serialises
    writers anyway, and reads here are index look-ups measured in milliseconds)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- reads

    def add_read(
        self,
        plate: str,
        camera: str,
        time: datetime,
        confidence: float,
        source: str,
        crop: str | None = None,
    ) -> StoredRead:
        uid = uuid.uuid4().hex
        with self._lock, self._db:
            self._db.execute("BEGIN")
            plate_id = self._plate_id(plate)
            self._db.execute(
                "INSERT INTO reads (uid, plate_id, camera, first_us, last_us, confidence,"
                " source, crop) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (uid, plate_id, camera, to_us(time), to_us(time), confidence, source, crop),
            )
        return StoredRead(uid, plate, camera, time, time, confidence, 1, source, crop)

    def add_many(self, rows: Iterable[tuple[str, str, int, float, str]]) -> int:
        """Bulk insert ``(plate, camera, time_us, confidence, source)`` rows (imports,
        benchmarks) in one transaction; returns how many."""
        plate_ids: dict[str, int] = {}

        def values() -> Iterator[tuple[str, int, str, int, int, float, str]]:
            for plate, camera, time_us, confidence, source in rows:
                plate_id = plate_ids.get(plate)
                if plate_id is None:
                    plate_id = plate_ids[plate] = self._plate_id(plate)
                yield (uuid.uuid4().hex, plate_id, camera, time_us, time_us, confidence, source)

        with self._lock, self._db:
            self._db.execute("BEGIN")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT INTO reads (uid, plate_id, camera, first_us, last_us, confidence,"
                " source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                values(),
            )
            return self._db.total_changes - before - len(plate_ids) * 2

    def extend_read(
        self, uid: str, time: datetime, confidence: float, crop: str | None
    ) -> str | None:
        """Merge another sighting into read ``uid``, keeping the best confidence; a new
        ``crop`` replaces the old one, whose file name is returned for deleting."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            row = self._db.execute("SELECT crop FROM reads WHERE uid = ?", (uid,)).fetchone()
            self._db.execute(
                "UPDATE reads SET last_us = max(last_us, ?), sightings = sightings + 1,"
                " confidence = max(confidence, ?), crop = coalesce(?, crop) WHERE uid = ?",
                (to_us(time), confidence, crop, uid),
            )
        old = row[0] if row else None
        return old if crop is not None and old is not None and old != crop else None

    def get(self, uid: str) -> StoredRead | None:
        with self._lock:
            row = self._db.execute(
                # Only constant SQL is spliced in; values are bound parameters.
                f"SELECT {_READ_COLUMNS} FROM reads r JOIN plates p ON p.id = r.plate_id"  # noqa: S608
                " WHERE r.uid = ?",
                (uid,),
            ).fetchone()
        return _read(row) if row else None

    def search(
        self,
        plate: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        camera: str | None = None,
        limit: int = 100,
        cameras: Collection[str] | None = None,
    ) -> list[tuple[StoredRead, str | None]]:
        """Reads, newest first, with how each matched ``plate``: ``"exact"``, ``"fuzzy"``
        (equal once OCR confusions are folded), or ``"partial"`` (contains the query).

        ``cameras``: only reads of these cameras (a caller's visible cameras); ``None``
        for every camera.
        """
        if cameras is not None and not cameras:
            return []
        where: list[str] = []
        args: list[Any] = []
        query = clean(plate or "")
        key = fold(query)
        if key:
            if len(key) >= 3:
                where.append(
                    "r.plate_id IN (SELECT rowid FROM plates_fts WHERE plates_fts MATCH ?)"
                )
                args.append('"' + key + '"')
            else:
                where.append("r.plate_id IN (SELECT id FROM plates WHERE folded LIKE ?)")
                args.append(f"%{key}%")
        if since is not None:
            where.append("r.first_us >= ?")
            args.append(to_us(since))
        if until is not None:
            where.append("r.first_us <= ?")
            args.append(to_us(until))
        if camera:
            where.append("r.camera = ?")
            args.append(camera)
        if cameras is not None:
            where.append(f"r.camera IN ({', '.join('?' * len(cameras))})")
            args.extend(sorted(cameras))
        # Only constant SQL fragments are spliced in; values are bound parameters.
        sql = f"SELECT {_READ_COLUMNS} FROM reads r JOIN plates p ON p.id = r.plate_id"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.first_us DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        found = [_read(row) for row in rows]
        return [(r, _match_kind(query, key, r.plate) if key else None) for r in found]

    def _plate_id(self, plate: str) -> int:
        row = self._db.execute("SELECT id FROM plates WHERE plate = ?", (plate,)).fetchone()
        if row:
            return int(row[0])
        key = fold(plate)
        cursor = self._db.execute("INSERT INTO plates (plate, folded) VALUES (?, ?)", (plate, key))
        plate_id = int(cursor.lastrowid or 0)
        self._db.execute("INSERT INTO plates_fts (rowid, folded) VALUES (?, ?)", (plate_id, key))
        return plate_id

    # ----------------------------------------------------------------- hotlists

    def replace_list_from_csv(self, name: str, entries: Sequence[tuple[str, str]]) -> None:
        """Set the CSV-loaded entries of list ``name`` (entries added by API stay)."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM hotlist WHERE list = ? AND origin = 'csv'", (name,))
            self._db.executemany(
                "INSERT OR REPLACE INTO hotlist (list, plate, folded, reason, origin)"
                " VALUES (?, ?, ?, ?, 'csv')",
                [(name, plate, fold(plate), reason) for plate, reason in entries],
            )

    def add_hotlist(self, name: str, plate: str, reason: str) -> HotlistEntry:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO hotlist (list, plate, folded, reason, origin)"
                " VALUES (?, ?, ?, ?, 'api')",
                (name, plate, fold(plate), reason),
            )
        return HotlistEntry(name, plate, reason, "api")

    def remove_hotlist(self, name: str, plate: str) -> bool:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute(
                "DELETE FROM hotlist WHERE list = ? AND plate = ?", (name, plate)
            )
        return cursor.rowcount > 0

    def hotlist(self, name: str | None = None) -> list[HotlistEntry]:
        sql = "SELECT list, plate, reason, origin FROM hotlist"
        args: tuple[str, ...] = ()
        if name is not None:
            sql += " WHERE list = ?"
            args = (name,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY list, plate", args).fetchall()
        return [HotlistEntry(*row) for row in rows]

    def hotlist_hits(self, plate: str) -> list[HotlistEntry]:
        """Entries matching ``plate`` exactly or once OCR confusions are folded."""
        with self._lock:
            rows = self._db.execute(
                "SELECT list, plate, reason, origin FROM hotlist WHERE folded = ?", (fold(plate),)
            ).fetchall()
        return [HotlistEntry(*row) for row in rows]


def _read(row: Sequence[Any]) -> StoredRead:
    uid, plate, camera, first_us, last_us, confidence, sightings, source, crop = row
    return StoredRead(
        uid, plate, camera, from_us(first_us), from_us(last_us), confidence, sightings, source, crop
    )


def _match_kind(query: str, key: str, plate: str) -> str:
    if plate == query:
        return "exact"
    if fold(plate) == key:
        return "fuzzy"
    return "partial"
