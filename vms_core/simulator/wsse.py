"""WS-Security UsernameToken checks (PasswordDigest and PasswordText), as cameras do them.

PasswordDigest = Base64(SHA-1(nonce + created + password)), nonce decoded from Base64.
Created must be close to the camera's own clock (which may be skewed): that is what makes
clients fetch GetSystemDateAndTime first and correct their timestamps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from vms_core.simulator.soap import child, child_text

DIGEST_TYPE_SUFFIX = "#PasswordDigest"
# How far a token's Created may be from the camera clock, in seconds.
FRESHNESS_WINDOW_S = 300.0


@dataclass(frozen=True, slots=True)
class UsernameToken:
    username: str
    password: str
    digest: bool
    nonce: bytes
    created: str | None


def find_username_token(header: ET.Element | None) -> UsernameToken | None:
    token = child(child(header, "Security"), "UsernameToken")
    if token is None:
        return None
    username = child_text(token, "Username")
    password_element = child(token, "Password")
    if username is None or password_element is None:
        return None
    password_type = password_element.get("Type", "")
    nonce_text = child_text(token, "Nonce") or ""
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return UsernameToken(
        username=username,
        password=(password_element.text or "").strip(),
        digest=password_type.endswith(DIGEST_TYPE_SUFFIX),
        nonce=nonce,
        created=child_text(token, "Created"),
    )


def parse_created(value: str) -> datetime | None:
    """ISO 8601 with ``Z`` or an offset, optional fractional seconds; None if unreadable."""
    candidate = value.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def password_digest(nonce: bytes, created: str, password: str) -> str:
    raw = hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324 -- the standard says SHA-1
    return base64.b64encode(raw).decode()


def verify(token: UsernameToken | None, username: str, password: str, camera_now: datetime) -> bool:
    """True if the token names this user with this password and is fresh."""
    if token is None or not hmac.compare_digest(token.username, username):
        return False
    if not token.digest:
        return hmac.compare_digest(token.password, password)
    if token.created is None:
        return False
    created = parse_created(token.created)
    if created is None or abs((created - camera_now).total_seconds()) > FRESHNESS_WINDOW_S:
        return False
    expected = password_digest(token.nonce, token.created, password)
    return hmac.compare_digest(token.password, expected)
