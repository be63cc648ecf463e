"""Users, passwords and API tokens on the catalog: the queries the account service and
the tests build on, each in the caller's transaction.

Passwords are hashed with argon2 (in a thread: hashing is deliberately slow); API tokens and
session ids are random and stored only as SHA-256, so a leaked database leaks no credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.accounts.principal import ROLE_RANK, Principal
from vms_core.db.models import ApiToken, Camera, CameraPermission, User
from vms_core.timeutil import now_us
from vms_core.untrusted import oneline

_hasher = PasswordHasher()
TOKEN_PREFIX = "vms_"  # noqa: S105 (a marker, not a secret)
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
USERNAME_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"  # the same set, for request schemas
MIN_PASSWORD_CHARS = 8


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


class AccountConflict(AccountError):
    """It conflicts with the accounts as they are (a name taken, the only admin)."""


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def validate_new_user(username: str, password: str, role: str) -> None:
    if not username or len(username) > 64 or not set(username) <= USERNAME_CHARS:
        shown = oneline(username, 64)
        raise AccountError(f'username "{shown}": use 1-64 letters, digits, ".", "_", "-" or "@"')
    if role not in ROLE_RANK:
        raise AccountError(f'role "{oneline(role, 20)}": expected one of {", ".join(ROLE_RANK)}')
    validate_password(password)


def validate_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"{field}: at least {MIN_PASSWORD_CHARS} characters")


async def ensure_another_admin(session: AsyncSession, user_id: int) -> None:
    """Refuse (``AccountError``) to take away the admin role, by demotion, disabling or
    deletion, from the only enabled admin: nobody could manage users any more.

    The admins' rows are locked first (``FOR UPDATE`` where the database has it; SQLite
    serialises writers anyway), so two admins demoting each other at once cannot both
    succeed.
    """
    admins = await session.scalars(
        select(User).where(User.role == "admin", User.disabled.is_(False)).with_for_update()
    )
    others = [u for u in admins if u.id != user_id]
    if not others:
        raise AccountError("this is the only admin; make another user an admin first")


@dataclass(frozen=True)
class CameraGrant:
    """The cameras a non-admin user sees: every one (``all``, including cameras added
    later), or those in ``ids``. ``unknown`` names the configured default's cameras that
    do not exist (yet), so the caller can say so."""

    all: bool
    ids: tuple[int, ...] = ()
    unknown: tuple[str, ...] = ()


async def default_grant(session: AsyncSession, default: str | list[str]) -> CameraGrant:
    """What ``[users] default_cameras`` gives a new user who is granted nothing else."""
    if default == "all":
        return CameraGrant(True)
    if default == "none":
        return CameraGrant(False)
    names = list(default)
    found = {
        c.name: c.id for c in await session.scalars(select(Camera).where(Camera.name.in_(names)))
    }
    return CameraGrant(
        False,
        tuple(sorted({found[n] for n in names if n in found})),
        tuple(n for n in names if n not in found),
    )


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    camera_ids: list[int] | None = None,
    *,
    all_cameras: bool = False,
) -> User:
    """``all_cameras``: the user sees every camera, including those added later (an
    admin always does)."""
    validate_new_user(username, password, role)
    existing = await session.scalar(select(User).where(User.username == username))
    if existing is not None:
        raise AccountConflict(f'username "{username}" already exists')
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role,
        disabled=False,
        created_us=now_us(),
        all_cameras=all_cameras,
    )
    session.add(user)
    await session.flush()
    for camera_id in camera_ids or []:
        session.add(CameraPermission(user_id=user.id, camera_id=camera_id))
    return user


async def set_camera_permissions(
    session: AsyncSession, user_id: int, camera_ids: list[int]
) -> None:
    await session.execute(delete(CameraPermission).where(CameraPermission.user_id == user_id))
    for camera_id in sorted(set(camera_ids)):
        session.add(CameraPermission(user_id=user_id, camera_id=camera_id))


async def principal_for(session: AsyncSession, user: User, via: str) -> Principal:
    cameras: frozenset[int] | None = None
    if user.role != "admin" and not user.all_cameras:
        rows = await session.scalars(
            select(CameraPermission.camera_id).where(CameraPermission.user_id == user.id)
        )
        cameras = frozenset(rows)
    return Principal(user.id, user.username, user.role, cameras, via)


async def authenticate_password(session: AsyncSession, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        # Same cost as a real check, so timing does not reveal which usernames exist.
        await verify_password(_DUMMY_HASH, password)
        return None
    if user.disabled or not await verify_password(user.password_hash, password):
        return None
    return user


# A hash of "not-a-real-password" with the hasher's parameters, made once ahead of time:
# hashing it at import cost every process 0.4 s and argon2's 64 MiB. A test checks that
# its parameters stay those of real hashes.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$/FBdqXYzsswxQB6yjoAsPg$"
    "Nz4szphrnrkbz65Vg67ic7Elf/dQMCO/UYZI4kOxjZQ"
)


async def create_token(
    session: AsyncSession, user_id: int, name: str, expires_us: int | None = None
) -> tuple[ApiToken, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=sha256_hex(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_us=now_us(),
        expires_us=expires_us,
    )
    session.add(row)
    await session.flush()
    return row, token


async def token_owner(session: AsyncSession, token: str) -> tuple[int, User] | None:
    """``(token id, user)`` for a valid API token of an enabled user, else ``None``.

    Reads only: the caller records the use (``TokenUsage``), so authentication works
    when the catalog cannot be written.
    """
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(token)))
    if row is None or (row.expires_us is not None and row.expires_us < now_us()):
        return None
    user = await session.get(User, row.user_id)
    return None if user is None or user.disabled else (row.id, user)


async def count_users(session: AsyncSession) -> int:
    return len((await session.scalars(select(User.id))).all())


async def ensure_first_admin(session: AsyncSession) -> str | None:
    """On a catalog with no users, create ``admin`` with a random password and return it."""
    if await count_users(session):
        return None
    password = secrets.token_urlsafe(12)
    await create_user(session, "admin", password, "admin")
    return password
