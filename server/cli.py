"""``qashyq``: the command line (``serve``, ``admin-token``, ``admin-tokens``, ``verify``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta

from aiohttp import web

from signaling.errors import QashyqError
from signaling.model import utc_now
from signaling.store_opening import open_store

from . import verify_command
from .admin_tokens import create_admin_token, default_token_name, revoke_admin_tokens
from .app import create_app
from .config import ConfigError, Settings
from .http_log import HttpServerLog
from .private_data import DataDirNotPrivate, make_private


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qashyq", description="Remote court hearings.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    token = commands.add_parser(
        "admin-token", help="create an admin token (printed as the last line), or revoke one")
    token.add_argument("--name", help="who holds it; the audit timeline names them "
                                      "(default: clerk-<random>)")
    token.add_argument("--expires", type=int, metavar="DAYS",
                       help="the token stops working after this many days (default: never)")
    token.add_argument("--revoke", metavar="NAME", help="revoke the token with this name")
    commands.add_parser("admin-tokens", help="list the admin tokens (names, never the tokens)")
    verify_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qashyq`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "verify":  # offline: needs no settings, store or server
        return verify_command.run(args)
    try:
        settings = Settings.from_env(host=getattr(args, "host", None),
                                     port=getattr(args, "port", None))
    except ConfigError as error:
        print(f"qashyq: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # DEBUG is for our own decisions (each subscriber's estimate and layers): aiortc and
    # aioice would log every STUN and RTCP packet.
    for library in ("aiortc", "aioice"):
        logging.getLogger(library).setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        if args.command == "admin-token":
            return asyncio.run(_admin_token(settings, args))
        if args.command == "admin-tokens":
            return asyncio.run(_list_admin_tokens(settings))
    except QashyqError as error:
        print(f"qashyq: {error.message}", file=sys.stderr)
        return 1
    return _serve(settings)


async def _admin_token(settings: Settings, args: argparse.Namespace) -> int:
    if args.revoke is not None and (args.name is not None or args.expires is not None):
        print("qashyq: --revoke takes no --name or --expires", file=sys.stderr)
        return 2
    if args.expires is not None and not 1 <= args.expires <= 3650:
        print(f"qashyq: --expires must be from 1 to 3650 days, not {args.expires}",
              file=sys.stderr)
        return 2
    store = await open_store(settings.data_dir, settings.redis_url)
    try:
        if args.revoke is not None:
            revoked = await revoke_admin_tokens(store, args.revoke)
            print(f"Revoked {len(revoked)} admin token(s) named {args.revoke}.")
            return 0
        expires = timedelta(days=args.expires) if args.expires is not None else None
        name = args.name or default_token_name()
        token = await create_admin_token(store, name, expires)
    finally:
        await store.close()
    print(f"A new admin token named {name} (shown once; keep it safe):", file=sys.stderr)
    print(token)
    return 0


async def _list_admin_tokens(settings: Settings) -> int:
    store = await open_store(settings.data_dir, settings.redis_url)
    try:
        tokens = await store.list_admin_tokens()
    finally:
        await store.close()
    now = utc_now()
    print(f"{'NAME':<24} {'STATE':<8} {'CREATED':<33} {'EXPIRES':<33} REVOKED")
    for token in tokens:
        row = token.public_json(now)
        print(f"{row['name']:<24} {row['state']:<8} {row['created_at']:<33} "
              f"{row['expires_at'] or '-':<33} {row['revoked_at'] or '-'}")
    return 0


def _serve(settings: Settings) -> int:
    try:
        make_private(settings)
    except DataDirNotPrivate as error:
        print(f"qashyq: {error}", file=sys.stderr)
        return 1
    backend = f"Redis at {settings.redis_url}" if settings.redis_url else (
        f"embedded store in {settings.data_dir.resolve()}"
    )

    async def announce(app: web.Application) -> None:
        # Everything alive after startup lives as long as the server: keep it out of the
        # full collections that otherwise pause forwarding for tens of milliseconds.
        gc.freeze()
        print(f"Qashyq is running ({backend}).", flush=True)
        print(f"Clerk page: {settings.base_url}/admin", flush=True)
        print("Create an admin token with: qashyq admin-token --name NAME", flush=True)

    app = create_app(settings)
    app.on_startup.append(announce)
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                access_log_format='%a "%r" %s %b %Tfs', logger=HttpServerLog())
    return 0


if __name__ == "__main__":
    sys.exit(main())
