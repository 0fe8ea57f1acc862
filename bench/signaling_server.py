"""``python -m bench.signaling_server --port N``: Qashyq's app without its SFU.

``bench.signaling_load`` runs this as its server process: the same application, settings
(``QASHYQ_*``) and store as ``qashyq serve``, minus the media plane, so that a page's cost
is the signaling's alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging

from aiohttp import web

from server.app import create_app
from server.config import Settings
from signaling.message_rates import DEFAULT_MESSAGE_RATES, MessageRate


def main() -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.signaling_server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # One judge admits every page of the load: its admit rate is lifted (docs in the load's).
    settings = dataclasses.replace(
        Settings.from_env(port=args.port),
        message_rates=DEFAULT_MESSAGE_RATES.with_rate("admit", MessageRate(10**6, 10**6.0)),
    )
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def freeze(app: web.Application) -> None:
        gc.freeze()  # as ``qashyq serve`` does after startup

    app = create_app(settings, media=False)
    app.on_startup.append(freeze)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
