"""The `vms` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vms_core import __version__
from vms_core.commands import register_all
from vms_core.config import ConfigError, Settings, load_config

if TYPE_CHECKING:
    from vms_core.api import accounts
    from vms_core.db import Database

log = logging.getLogger("vms")


def _config_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="configuration file (default ./vms.toml)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = _config_parent()
    parser = argparse.ArgumentParser(
        prog="vms", description="Video management server", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"vms {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("serve", parents=[common], help="run the server")
    sub.add_parser(
        "demo", parents=[common], help="run the server with simulated cameras already added"
    )
    check = sub.add_parser("check-config", parents=[common], help="validate a configuration file")
    check.add_argument("path", nargs="?", type=Path, help="file to check (default --config)")

    db = sub.add_parser("db", parents=[common], help="catalog maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", parents=[common], help="upgrade the catalog schema")

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

    simulate = sub.add_parser("simulate", help="run simulated ONVIF cameras", add_help=False)
    simulate.add_argument("args", nargs=argparse.REMAINDER)
    parser.set_defaults(_handlers=register_all(sub, common))
    return parser


def first_start_box(url: str, password: str) -> str:
    """The first admin password, framed so it stands out from the log around it."""
    lines = [
        f"Open {url} and sign in:",
        "",
        f"created user admin with password {password}",
        "",
        "It is shown only this once. Change it in the web client (your name, top right),",
        "and add users there (Admin > Users) or with `vms users add`.",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


# Libraries that report routine work at INFO (aioice: every ICE candidate pair of every
# live view); their INFO lines are DEBUG noise for an operator reading the log.
CHATTY_LOGGERS = ("aioice", "aiortc")


def config_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "config", None) or "vms.toml")


def load_or_exit(path: Path) -> Settings:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `vms simulate` owns its own options.
    if argv and argv[0] == "simulate":
        from vms_core.simulator.cli import main as simulate_main

        return simulate_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": cmd_serve,
        "demo": cmd_demo,
        "check-config": cmd_check_config,
        "db": cmd_db,
        "users": cmd_users,
        **args._handlers,
    }
    if args.command is None:
        parser.print_help()
        return 2
    return commands[args.command](args)


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.path or config_path(args)
    try:
        settings = load_config(path)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    print(
        f"{path}: OK ({len(settings.cameras)} cameras, {len(settings.plugins)} plug-in "
        f"tables, {len(settings.rules)} rules)"
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from vms_core.db import upgrade_schema

    settings = load_or_exit(config_path(args))
    upgrade_schema(settings.database_url)
    print(f"catalog upgraded: {settings.database_url}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    settings = load_or_exit(config_path(args))
    return asyncio.run(_users(args, settings))


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from vms_core.api import accounts
    from vms_core.db import Database, upgrade_schema
    from vms_core.db.models import Camera, User

    await asyncio.to_thread(upgrade_schema, settings.database_url)
    db = Database(settings.database_url)
    try:
        if args.users_command == "list":
            async with db.session() as session:
                for user in await session.scalars(select(User).order_by(User.username)):
                    state = " (disabled)" if user.disabled else ""
                    print(f"{user.id}\t{user.username}\t{user.role}{state}")
            return 0
        password, generated = _new_password(args)
        if password is None:
            return 2
        if args.users_command == "passwd":
            return await _passwd(db, args.username, password, generated)
        async with db.session() as session:
            camera_ids: list[int] = []
            for ref in filter(None, (p.strip() for p in args.cameras.split(","))):
                cam = await session.scalar(
                    select(Camera).where(
                        Camera.id == int(ref) if ref.isdigit() else Camera.name == ref
                    )
                )
                if cam is None:
                    print(f"users add: --cameras: no camera {ref!r}", file=sys.stderr)
                    return 2
                camera_ids.append(cam.id)
            if args.cameras.strip():
                grant = accounts.CameraGrant(False, tuple(camera_ids))
            else:
                grant = await accounts.default_grant(session, settings.users.default_cameras)
            try:
                await accounts.create_user(
                    session,
                    args.username,
                    password,
                    args.role,
                    list(grant.ids),
                    all_cameras=grant.all,
                )
            except accounts.AccountError as exc:
                print(f"users add: {exc}", file=sys.stderr)
                return 2
            names = {
                c.id: c.name
                for c in await session.scalars(select(Camera).where(Camera.id.in_(grant.ids)))
            }
        print(f"user {args.username} added with role {args.role}")
        print(_what_the_user_sees(args.role, grant, names, from_default=not args.cameras.strip()))
        if generated:
            print(f"password (shown once): {password}")
        return 0
    finally:
        await db.close()


def _what_the_user_sees(
    role: str, grant: accounts.CameraGrant, names: dict[int, str], from_default: bool
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


async def _passwd(db: Database, username: str, password: str, generated: bool) -> int:
    from sqlalchemy import select

    from vms_core.api import accounts
    from vms_core.api.passwords import set_password
    from vms_core.api.sessions import SessionStore
    from vms_core.db.models import User

    async with db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            print(f"users passwd: no user {username!r}", file=sys.stderr)
            return 2
        try:
            await set_password(session, SessionStore(db), user, password)
        except accounts.AccountError as exc:
            print(f"users passwd: {exc}", file=sys.stderr)
            return 2
    print(f"password of {username} changed; their sessions and API tokens were ended")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    path = config_path(args)
    settings = load_or_exit(path)
    return asyncio.run(_serve(settings, path))


def cmd_demo(args: argparse.Namespace) -> int:
    from vms_core.demo import run_demo

    path = config_path(args)
    settings = load_or_exit(path)
    return asyncio.run(run_demo(settings, path))


async def _serve(settings: Settings, path: Path | None) -> int:
    from vms_core.server import VmsServer

    server = VmsServer(settings, path)
    return await run_until_signalled(server)


async def run_until_signalled(
    server: object,
    before_stop: Callable[[], object] | None = None,
    after_start: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Start the server, print where it listens, serve until SIGINT/SIGTERM, stop cleanly.
    SIGHUP reloads the configuration."""
    from vms_core.server import VmsServer

    assert isinstance(server, VmsServer)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[object]] = set()

    async def reload() -> object:
        try:
            report = await server.reload_config()
            log.info("configuration reloaded: %s", report.summary())
        except ConfigError as exc:
            log.error("configuration not reloaded:\n%s", exc.report())
        return None

    def on_hup() -> None:
        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await server.start()
    except OSError as exc:
        print(
            f"vms: cannot listen on {server.settings.server.host}:"
            f"{server.settings.server.port}: {exc.strerror}",
            file=sys.stderr,
        )
        await server.stop()
        return 1
    if after_start is not None:
        await after_start()
    print(f"vms {server.version} listening on {server.url}", flush=True)
    if server.initial_admin_password:
        # Last, and framed: a first start logs plenty before it is ready.
        print(first_start_box(server.url, server.initial_admin_password), flush=True)
    await stop.wait()
    log.info("shutting down")
    if before_stop is not None:
        result = before_stop()
        if asyncio.iscoroutine(result):
            await result
    await server.stop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
