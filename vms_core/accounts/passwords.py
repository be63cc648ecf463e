"""Changing a password, and ending what the old one opened.

Whoever knew the old password may have a session or an API token made with it; a new
password that left those working would change nothing for them. So a change ends every
session of the user and revokes every API token of theirs, except the one credential the
change was made with (the user changing their own password in the browser stays logged in
there; an admin resetting their own password keeps the session or token they used).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from vms_core.accounts import store as accounts
from vms_core.accounts.sessions import SessionStore
from vms_core.db.models import ApiToken, User


async def set_password(
    session: AsyncSession,
    sessions: SessionStore,
    user: User,
    password: str,
    *,
    keep_cookie: str | None = None,
    keep_token: str | None = None,
    field: str = "password",
) -> None:
    """Give ``user`` a new password in ``session`` (the caller's transaction) and end
    their sessions and tokens but ``keep_cookie``/``keep_token``.

    :raises AccountError: when the password is too short (naming ``field``).
    """
    accounts.validate_password(password, field)
    user.password_hash = await accounts.hash_password(password)
    await sessions.end_all_of(session, user.id, keep_cookie)
    condition = ApiToken.user_id == user.id
    if keep_token is not None:
        condition = condition & (ApiToken.token_hash != accounts.sha256_hex(keep_token))
    await session.execute(delete(ApiToken).where(condition))
