"""Shared fixtures; each real component (Redis, Chromium, the server) lives in its own plugin."""

pytest_plugins = [
    "tests.fixtures.redis_server",
    "tests.fixtures.app_server",
    "tests.fixtures.browser",
    "tests.fixtures.firefox",
    "tests.fixtures.turn_server",
    "tests.fixtures.server_log",
    "tests.fixtures.hypothesis_profile",
]
