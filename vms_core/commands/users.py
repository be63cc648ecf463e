"""`vms users add|list|passwd`: manage users on the catalog directly (no server needed)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from typing import Any

from vms_core.accounts import AccountConflict, AccountError, CameraGrant
from vms_core.accounts.service import AccountService, UnknownCamera, UnknownUser
from vms_core.accounts.sessions import SessionStore
from vms_core.accounts.usage import TokenUsage
from vms_core.commands import Handler
from vms_core.commands.settings import config_path, load_or_exit
from vms_core.config import Settings
from vms_core.db import Database, upgrade_schema


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    users = sub.add_parser("users", parents=[common], help="manage users")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users_sub.add_parser("add", parents=[common], help="add a user")
    add.add_argument("username")
    add.add_argument("--role", choices=["admin", "operator", "viewer"], default="viewer")
    add.add_argument("--password", help="default: ask, or generate with --generate-password")
    add.add_argument(
        "--generate-password",
        action="store_true",
        help="generate a random password and print it once",
    )
    add.add_argument(
        "--cameras",
        default="",
        help="comma-separated camera names or ids the user may see (default: [users] "
        "default_cameras in vms.toml)",
    )
    users_sub.add_parser("list", parents=[common], help="list users")
    passwd = users_sub.add_parser(
        "passwd",
        parents=[common],
        help="set a user's password; ends their sessions and revokes their API tokens",
    )
    passwd.add_argument("username")
    passwd.add_argument("--password", help="default: ask, or generate with --generate-password")
    passwd.add_argument(
        "--generate-password",
        action="store_true",
        help="generate a random password and print it once",
    )
    return {"users": cmd_users}


def cmd_users(args: argparse.Namespace) -> int:
    settings = load_or_exit(config_path(args))
    return asyncio.run(_users(args, settings))


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    await asyncio.to_thread(upgrade_schema, settings.database_url)
    db = Database(settings.database_url)
    accounts = AccountService(
        db, SessionStore(db), TokenUsage(db), lambda: settings.users.default_cameras
    )
    try:
        if args.users_command == "list":
            for user in await accounts.users():
                state = " (disabled)" if user.disabled else ""
                print(f"{user.id}\t{user.username}\t{user.role}{state}")
            return 0
        password, generated = _new_password(args)
        if password is None:
            return 2
        if args.users_command == "passwd":
            return await _passwd(accounts, args.username, password, generated)
        return await _add(accounts, args, password, generated)
    finally:
        await db.close()


async def _add(
    accounts: AccountService, args: argparse.Namespace, password: str, generated: bool
) -> int:
    refs = [ref for ref in (p.strip() for p in args.cameras.split(",")) if ref]
    try:
        cameras = await accounts.camera_ids(refs) if refs else None
        created = await accounts.create_user(args.username, password, args.role, cameras)
    except UnknownCamera as exc:
        print(f"users add: --cameras: {exc}", file=sys.stderr)
        return 2
    except (AccountConflict, AccountError) as exc:
        print(f"users add: {exc}", file=sys.stderr)
        return 2
    names = await accounts.camera_names(created.grant.ids)
    print(f"user {args.username} added with role {args.role}")
    print(_what_the_user_sees(args.role, created.grant, names, from_default=not refs))
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _what_the_user_sees(
    role: str, grant: CameraGrant, names: dict[int, str], from_default: bool
) -> str:
    """One line saying which cameras a new user will see, and where that came from."""
    source = " ([users] default_cameras in vms.toml; --cameras chooses others)"
    if not from_default:
        source = ""
    if role == "admin":
        return "sees every camera (admins always do)"
    if grant.all:
        return f"sees every camera, including cameras added later{source}"
    shown = ", ".join(names.get(i, str(i)) for i in grant.ids)
    missing = f"; not found, so not granted: {', '.join(grant.unknown)}" if grant.unknown else ""
    if not grant.ids:
        return (
            f"sees no camera yet{source}{missing}: grant cameras with --cameras, on the "
            "Users page, or with PATCH /api/users/{id}"
        )
    return f"sees {len(grant.ids)} camera(s): {shown}{source}{missing}"


def _new_password(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The password given, generated or typed; ``None`` (after saying why) when there is
    no way to get one."""
    if args.password is not None:
        return args.password, False
    if args.generate_password:
        return secrets.token_urlsafe(12), True
    if not sys.stdin.isatty():
        print(
            f"users {args.users_command}: give --password or --generate-password",
            file=sys.stderr,
        )
        return None, False
    return getpass.getpass(f"Password for {args.username}: "), False


async def _passwd(accounts: AccountService, username: str, password: str, generated: bool) -> int:
    try:
        await accounts.set_password_of(username, password)
    except UnknownUser as exc:
        print(f"users passwd: {exc}", file=sys.stderr)
        return 2
    except AccountError as exc:
        print(f"users passwd: {exc}", file=sys.stderr)
        return 2
    print(f"password of {username} changed; their sessions and API tokens were ended")
    if generated:
        print(f"password (shown once): {password}")
    return 0
