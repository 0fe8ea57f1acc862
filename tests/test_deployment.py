"""The deployment files: compose accepts the stack, and it has what the brief promises."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.fixtures.app_server import REPO


def _compose_command() -> list[str]:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if shutil.which("docker") and probe.returncode == 0:
        return ["docker", "compose"]
    path = shutil.which("docker-compose")
    assert path, "neither 'docker compose' nor docker-compose is installed (scripts/test does)"
    return [path]


def test_compose_accepts_the_stack() -> None:
    env = {**os.environ, "TURN_SECRET": "s3cret"}
    result = subprocess.run([*_compose_command(), "config"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for expected in ("app:", "redis:", "coturn:", "appendonly", "REDIS_URL",
                     "static-auth-secret=s3cret"):
        assert expected in result.stdout, expected


def test_compose_refuses_a_missing_turn_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TURN_SECRET"}
    result = subprocess.run([*_compose_command(), "config"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "TURN_SECRET" in result.stderr
