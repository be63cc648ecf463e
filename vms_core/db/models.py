"""The catalog: typed SQLAlchemy 2 models.

Times are integer microseconds since the Unix epoch, UTC (``*_us`` columns): exact, sortable,
and the same on SQLite and PostgreSQL. JSON columns hold small structured data only.

Ids are never reused. Data outside a table names its rows by id (recordings on disk under
the camera's id, events naming cameras, audit entries naming users, plug-ins' own stores),
so an id handed out twice would move that data to the wrong camera or user. PostgreSQL's
sequences never hand out an id twice; SQLite reuses the highest id after it is deleted
unless the table is AUTOINCREMENT, which ``NEVER_REUSED`` makes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NEVER_REUSED = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them alike on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # "config" for cameras declared in vms.toml, "api" for cameras added at run time.
    source: Mapped[str] = mapped_column(String(16), default="api")
    onvif_url: Mapped[str | None] = mapped_column(String(512))
    username: Mapped[str] = mapped_column(String(128), default="")
    # Fernet token; never leaves the server.
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    manufacturer: Mapped[str] = mapped_column(String(128), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)
    fov: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    record: Mapped[bool] = mapped_column(Boolean, default=True)
    has_ptz: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_max_days: Mapped[float | None] = mapped_column(Float)
    retention_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), default="unknown")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_changed_us: Mapped[int] = mapped_column(BigInteger, default=0)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)

    streams: Mapped[list[Stream]] = relationship(
        back_populates="camera", cascade="all, delete-orphan", order_by="Stream.role"
    )


class Stream(Base):
    """One video stream of a camera (main or sub) and what ingest last saw of it."""

    __tablename__ = "streams"
    __table_args__ = (UniqueConstraint("camera_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # "main" | "sub"
    url: Mapped[str] = mapped_column(String(1024))
    profile_token: Mapped[str] = mapped_column(String(128), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    bitrate: Mapped[int | None] = mapped_column(Integer)
    audio_codec: Mapped[str] = mapped_column(String(32), default="")

    camera: Mapped[Camera] = relationship(back_populates="streams")


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_camera_start", "camera_id", "start_us"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    stream_role: Mapped[str] = mapped_column(String(16), default="main")
    start_us: Mapped[int] = mapped_column(BigInteger)
    # NULL while the segment is being written.
    end_us: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    codec: Mapped[str] = mapped_column(String(32), default="")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Keyset paging walks (time_us, id) newest first; the others serve its filters.
        Index("ix_events_time_id", "time_us", "id"),
        Index("ix_events_type_time", "type", "time_us"),
        Index("ix_events_kind_time", "kind", "time_us"),
        Index("ix_events_severity_time", "severity", "time_us"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(128))
    time_us: Mapped[int] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(16), default="info")
    # What sort of fact it is (vms_core.events.kinds): "motion", "system" or "detection".
    # A server default, not a Python one: inserts that do not name it work on older
    # schemas too (the bus always names it).
    kind: Mapped[str] = mapped_column(String(16), server_default="detection")
    source: Mapped[str] = mapped_column(String(128), default="")
    camera_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EventCamera(Base):
    """Which cameras an event concerns, as rows so events can be filtered by camera."""

    __tablename__ = "event_cameras"

    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("events.id", ondelete="CASCADE"),
        primary_key=True,
    )
    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Bookmark(Base):
    """A marked time range on one camera; ``locked`` makes it evidence retention keeps."""

    __tablename__ = "bookmarks"
    __table_args__ = (
        Index("ix_bookmarks_camera_range", "camera_id", "start_us", "end_us"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    event_uid: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_us: Mapped[int] = mapped_column(BigInteger)
    # An automatic lock (a rule's, a plug-in's) ends at this time unless a person locks
    # the bookmark again; NULL: the lock holds until someone unlocks it.
    lock_expires_us: Mapped[int | None] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"
    # Export jobs and other records keyed by user id must not pass to a new user.
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # admin | operator | viewer
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_us: Mapped[int] = mapped_column(BigInteger)
    # Sees every camera, those added later too (no camera_permissions rows needed).
    all_cameras: Mapped[bool] = mapped_column(Boolean, server_default="0")


class CameraPermission(Base):
    """A non-admin user sees a camera, live and recorded, only with a row here."""

    __tablename__ = "camera_permissions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    # SHA-256 of the token; the token itself is shown once at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_us: Mapped[int] = mapped_column(BigInteger)
    last_used_us: Mapped[int | None] = mapped_column(BigInteger)
    expires_us: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    __tablename__ = "web_sessions"

    # SHA-256 of the cookie value.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time_us: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256), default="")
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    remote: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SavedView(Base):
    """A named video wall: a layout and the camera in each tile. A user's own view has an
    owner; a shared one (made by an admin, offered to everyone) has none, so it outlives
    the admin who made it."""

    __tablename__ = "saved_views"
    # Names are unique per owner; shared views' names are kept unique by the service. A
    # browser remembers the view it shows by id: a deleted view's id is not handed out again.
    __table_args__ = (UniqueConstraint("owner_id", "name"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    layout: Mapped[int] = mapped_column(Integer)  # tiles: 1, 4, 9 or 16
    # One entry per tile: a camera id, or null for an empty tile.
    tiles: Mapped[list[int | None]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class Alarm(Base):
    """An event that needs a person: it waits in the alarm queue until someone closes it.

    State goes ``new`` -> ``acknowledged`` -> ``closed`` (closing straight from ``new``
    is allowed); every change is audited and sent to every operator's event stream.
    """

    __tablename__ = "alarms"
    # Never reused: audit entries and thumbnail files are keyed by alarm id.
    __table_args__ = (Index("ix_alarms_state_time", "state", "time_us", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("events.id", ondelete="CASCADE"),
        unique=True,
    )
    time_us: Mapped[int] = mapped_column(BigInteger)  # the event's time
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="new")
    # A username (kept as text: the record outlives a deleted account).
    assignee: Mapped[str | None] = mapped_column(String(64))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_us: Mapped[int | None] = mapped_column(BigInteger)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_us: Mapped[int | None] = mapped_column(BigInteger)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)
    # "pending" | "ready" | "none" (no picture could be had; thumbnail_note says why).
    thumbnail: Mapped[str] = mapped_column(String(16), default="pending")
    thumbnail_note: Mapped[str] = mapped_column(String(256), default="")


class AlarmNote(Base):
    __tablename__ = "alarm_notes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    alarm_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("alarms.id", ondelete="CASCADE"),
        index=True,
    )
    time_us: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class PluginState(Base):
    """The small key-value store each plug-in gets for its own state."""

    __tablename__ = "plugin_state"

    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
