"""The shape of the server's own loops: quiet when closed, loud when broken, never stuck."""

from __future__ import annotations

import asyncio
import logging

import pytest

from media.periodic_task import PeriodicTask
from tests.fixtures.polling import eventually


async def test_an_unexpected_error_is_logged_at_once_and_close_does_not_raise_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = 0

    async def step() -> None:
        nonlocal steps
        steps += 1
        if steps == 3:
            raise RuntimeError("the step broke")

    loop = PeriodicTask("receiver reports to p1", 0.01, step)
    with caplog.at_level(logging.ERROR, logger="media.periodic_task"):
        await eventually(lambda: not loop.running, what="the loop to stop on the error")
        # Logged when it happened, with the loop's name and the traceback.
        [record] = [r for r in caplog.records if r.name == "media.periodic_task"]
        assert "receiver reports to p1 stopped" in record.getMessage()
        assert record.exc_info is not None and "the step broke" in str(record.exc_info[1])
    await loop.close()
    assert steps == 3


async def test_close_stops_the_loop_quietly_and_is_idempotent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = 0

    async def step() -> None:
        nonlocal steps
        steps += 1

    loop = PeriodicTask("recording watch", 0.01, step)
    await eventually(lambda: steps >= 2, what="a few steps")
    with caplog.at_level(logging.DEBUG, logger="media.periodic_task"):
        await loop.close()
        await loop.close()
    assert not loop.running  # its task is done: no step can run any more
    assert not [r for r in caplog.records if r.name == "media.periodic_task"]


async def test_a_connection_gone_under_the_step_ends_the_loop_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def step() -> None:
        raise ConnectionResetError("the peer connection closed")

    with caplog.at_level(logging.DEBUG, logger="media.periodic_task"):
        loop = PeriodicTask("receiver reports to p2", 0.01, step)
        await eventually(lambda: not loop.running, what="the loop to end")
        await loop.close()
    assert not [r for r in caplog.records if r.name == "media.periodic_task"]


async def test_closing_before_the_first_step_does_not_hang() -> None:
    async def step() -> None:
        raise AssertionError("never runs")

    loop = PeriodicTask("closed at once", 10.0, step)
    await asyncio.wait_for(loop.close(), 5)
    assert not loop.running
