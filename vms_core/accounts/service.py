"""AccountService: users, passwords, API tokens and web sessions, as the HTTP API and the
`vms users` command use them. Every catalog query about accounts lives here or in
:mod:`vms_core.accounts.store`; callers get small values, never catalog rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.accounts import store
from vms_core.accounts.passwords import set_password
from vms_core.accounts.principal import Principal
from vms_core.accounts.sessions import SessionStore
from vms_core.accounts.store import AccountConflict, AccountError, CameraGrant
from vms_core.accounts.usage import TokenUsage
from vms_core.db.engine import Database
from vms_core.db.models import ApiToken, Camera, CameraPermission, User

# A grant as the API and the CLI state it: camera ids, or every camera ("all").
Cameras = list[int] | Literal["all"]


class UnknownUser(LookupError):
    """No such user; the message names it."""


class UnknownCamera(LookupError):
    """A camera named in a grant does not exist; the message names it."""


class WrongPassword(AccountError):
    """The current password given to change it does not match."""


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    disabled: bool
    created_us: int
    # "all": every camera (admins, and users granted all); else the ids granted.
    cameras: Cameras


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    prefix: str
    created_us: int
    last_used_us: int | None
    expires_us: int | None


@dataclass(frozen=True)
class NewUser:
    """A user just created, and the grant it got (``unknown``: names in the configured
    default that match no camera)."""

    user: UserView
    grant: CameraGrant


@dataclass(frozen=True)
class UserChange:
    """What to change of a user; ``None`` leaves it as it is."""

    role: str | None = None
    disabled: bool | None = None
    password: str | None = None
    cameras: Cameras | None = None


class AccountService:
    """``default_cameras``: ``[users] default_cameras`` as it is now (it may be reloaded)."""

    def __init__(
        self,
        db: Database,
        sessions: SessionStore,
        token_usage: TokenUsage,
        default_cameras: Callable[[], str | list[str]],
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.token_usage = token_usage
        self._default_cameras = default_cameras

    # -- signing in --------------------------------------------------------------------------
    async def ensure_first_admin(self) -> str | None:
        """On a catalog with no users, create ``admin`` and return its random password."""
        async with self.db.session() as session:
            return await store.ensure_first_admin(session)

    async def login(self, username: str, password: str) -> Principal | None:
        """The principal of a right username and password of an enabled user, else None."""
        async with self.db.session() as session:
            user = await store.authenticate_password(session, username, password)
            if user is None:
                return None
            return await store.principal_for(session, user, "session")

    async def authenticate(self, bearer: str | None, cookie: str | None) -> Principal | None:
        """Who holds the API token ``bearer`` (else the session ``cookie``), or None. Reads
        the catalog only: a token's use is remembered in memory (``TokenUsage``)."""
        async with self.db.session() as session:
            if bearer is not None:
                found = await store.token_owner(session, bearer)
                if found is None:
                    return None
                token_id, user = found
                self.token_usage.touch(token_id)
                return await store.principal_for(session, user, "token")
            if cookie:
                owner = await self.sessions.user_for(session, cookie)
                if owner is None:
                    return None
                return await store.principal_for(session, owner, "session")
            return None

    async def start_session(self, user_id: int, hours: float) -> str:
        """A new web session; returns the cookie value (SessionsUnavailable if it can be
        neither written nor kept)."""
        return await self.sessions.create(user_id, hours)

    async def end_session(self, cookie: str) -> None:
        await self.sessions.end(cookie)

    async def change_own_password(
        self,
        user_id: int,
        current: str,
        new: str,
        *,
        keep_cookie: str | None,
        keep_token: str | None,
    ) -> None:
        """WrongPassword when ``current`` does not match; AccountError (naming
        ``new_password``) for a new password that is not allowed."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None or not await store.verify_password(user.password_hash, current):
                raise WrongPassword("current_password: does not match")
            await set_password(
                session,
                self.sessions,
                user,
                new,
                keep_cookie=keep_cookie,
                keep_token=keep_token,
                field="new_password",
            )

    # -- API tokens --------------------------------------------------------------------------
    async def tokens(self, user_id: int) -> list[TokenView]:
        async with self.db.session() as session:
            rows = await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id))
            return [self._token_view(row) for row in rows]

    async def create_token(
        self, user_id: int, name: str, expires_us: int | None
    ) -> tuple[TokenView, str]:
        """The new token and its secret (shown once, stored only as a hash)."""
        async with self.db.session() as session:
            row, secret = await store.create_token(session, user_id, name, expires_us)
            return self._token_view(row), secret

    async def revoke_token(self, user_id: int, token_id: int) -> bool:
        """False when ``user_id`` has no token ``token_id``."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
            )
        return bool(getattr(result, "rowcount", 0))

    def _token_view(self, row: ApiToken) -> TokenView:
        return TokenView(
            row.id,
            row.name,
            row.prefix,
            row.created_us,
            self.token_usage.last_used(row.id, row.last_used_us),
            row.expires_us,
        )

    # -- users -------------------------------------------------------------------------------
    async def users(self) -> list[UserView]:
        """Every user, by name."""
        async with self.db.session() as session:
            users = list(await session.scalars(select(User).order_by(User.username)))
            granted: dict[int, list[int]] = {}
            for permission in await session.scalars(select(CameraPermission)):
                granted.setdefault(permission.user_id, []).append(permission.camera_id)
        return [_user_view(u, sorted(granted.get(u.id, []))) for u in users]

    async def create_user(
        self, username: str, password: str, role: str, cameras: Cameras | None
    ) -> NewUser:
        """``cameras`` None: what ``[users] default_cameras`` says; ids are granted in the
        order given. AccountConflict for a name taken, AccountError for a name, role or
        password not allowed."""
        async with self.db.session() as session:
            if cameras is None:
                grant = await store.default_grant(session, self._default_cameras())
            elif cameras == "all":
                grant = CameraGrant(True)
            else:
                grant = CameraGrant(False, tuple(cameras))
            user = await store.create_user(
                session, username, password, role, list(grant.ids), all_cameras=grant.all
            )
            return NewUser(_user_view(user, list(grant.ids)), grant)

    async def change_user(
        self,
        user_id: int,
        change: UserChange,
        *,
        keep_cookie: str | None = None,
        keep_token: str | None = None,
    ) -> UserView:
        """Apply ``change``; a new password ends the user's sessions and tokens but
        ``keep_cookie``/``keep_token``. UnknownUser, or AccountConflict when it would leave
        no enabled admin."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UnknownUser(f"no user {user_id}")
            stops_being_admin = user.role == "admin" and (
                (change.role is not None and change.role != "admin") or change.disabled is True
            )
            if stops_being_admin:
                await _ensure_another_admin(session, user)
            if change.role is not None:
                user.role = change.role
            if change.disabled is not None:
                user.disabled = change.disabled
            if change.password is not None:
                await set_password(
                    session,
                    self.sessions,
                    user,
                    change.password,
                    keep_cookie=keep_cookie,
                    keep_token=keep_token,
                )
            if change.cameras is not None:
                user.all_cameras = change.cameras == "all"
                granted = [] if change.cameras == "all" else change.cameras
                await store.set_camera_permissions(session, user.id, granted)
            await session.flush()
            cameras = sorted(
                await session.scalars(
                    select(CameraPermission.camera_id).where(CameraPermission.user_id == user.id)
                )
            )
            return _user_view(user, cameras)

    async def reset_password(
        self,
        user_id: int,
        password: str,
        *,
        keep_cookie: str | None = None,
        keep_token: str | None = None,
    ) -> str:
        """Set a user's password (ending their sessions and tokens but the ones kept);
        returns their name. UnknownUser, or AccountError for a password not allowed."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UnknownUser(f"no user {user_id}")
            await set_password(
                session,
                self.sessions,
                user,
                password,
                keep_cookie=keep_cookie,
                keep_token=keep_token,
            )
            return user.username

    async def set_password_of(self, username: str, password: str) -> None:
        """`vms users passwd`: as ``reset_password``, by name, keeping nothing."""
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UnknownUser(f"no user {username!r}")
            await set_password(session, self.sessions, user, password)

    async def delete_user(self, user_id: int) -> str:
        """Delete a user; returns their name. UnknownUser, or AccountConflict for the only
        enabled admin."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UnknownUser(f"no user {user_id}")
            if user.role == "admin":
                await _ensure_another_admin(session, user)
            await session.delete(user)
            return user.username

    # -- cameras in grants -------------------------------------------------------------------
    async def camera_ids(self, refs: Iterable[str]) -> list[int]:
        """The ids of cameras named by id or name, in order; UnknownCamera names the first
        that matches none."""
        ids: list[int] = []
        async with self.db.session() as session:
            for ref in refs:
                camera = await session.scalar(
                    select(Camera).where(
                        Camera.id == int(ref) if ref.isdigit() else Camera.name == ref
                    )
                )
                if camera is None:
                    raise UnknownCamera(f"no camera {ref!r}")
                ids.append(camera.id)
        return ids

    async def camera_names(self, ids: Iterable[int]) -> dict[int, str]:
        async with self.db.session() as session:
            rows = await session.scalars(select(Camera).where(Camera.id.in_(list(ids))))
            return {camera.id: camera.name for camera in rows}


async def _ensure_another_admin(session: AsyncSession, user: User) -> None:
    try:
        await store.ensure_another_admin(session, user.id)
    except AccountError as exc:
        raise AccountConflict(f"user {user.username}: {exc}") from None


def _user_view(user: User, cameras: list[int]) -> UserView:
    sees_all = user.role == "admin" or user.all_cameras
    return UserView(
        user.id,
        user.username,
        user.role,
        user.disabled,
        user.created_us,
        "all" if sees_all else cameras,
    )
