"""``qashyq``: the command line (``serve``, ``admin-token``, ``verify``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from signaling.store_opening import open_store

from . import verify_command
from .admin_tokens import create_admin_token
from .app import create_app
from .config import ConfigError, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qashyq", description="Remote court hearings.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    commands.add_parser("admin-token", help="create an admin token; printed as the last line")
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
    if args.command == "admin-token":
        token = asyncio.run(_new_admin_token(settings))
        print("A new admin token (shown once; keep it safe):", file=sys.stderr)
        print(token)
        return 0
    return _serve(settings)


async def _new_admin_token(settings: Settings) -> str:
    store = await open_store(settings.data_dir, settings.redis_url)
    try:
        return await create_admin_token(store)
    finally:
        await store.close()


def _serve(settings: Settings) -> int:
    backend = f"Redis at {settings.redis_url}" if settings.redis_url else (
        f"embedded store in {settings.data_dir.resolve()}"
    )

    async def announce(app: web.Application) -> None:
        # Everything alive after startup lives as long as the server: keep it out of the
        # full collections that otherwise pause forwarding for tens of milliseconds.
        gc.freeze()
        print(f"Qashyq is running ({backend}).", flush=True)
        print(f"Clerk page: {settings.base_url}/admin", flush=True)
        print("Create an admin token with: qashyq admin-token", flush=True)

    app = create_app(settings)
    app.on_startup.append(announce)
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                access_log_format='%a "%r" %s %b %Tfs')
    return 0


if __name__ == "__main__":
    sys.exit(main())
