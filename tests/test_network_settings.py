"""TURN, relay policy and reconnection settings: bad values are refused naming the variable."""

from __future__ import annotations

import pytest

from server.config import ConfigError, Settings
from server.ice import ice_servers_for, sfu_ice_servers

TURN = "turn:turn.court.kz:3478?transport=tcp,turns:turn.court.kz:5349?transport=tcp"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QASHYQ_TURN_URLS": "stun:x:3478", "QASHYQ_TURN_SECRET": "s"}, "QASHYQ_TURN_URLS"),
        ({"QASHYQ_TURN_URLS": TURN}, "QASHYQ_TURN_SECRET"),
        ({"QASHYQ_TURN_SECRET": "s"}, "QASHYQ_TURN_URLS"),
        ({"QASHYQ_ICE_TRANSPORT_POLICY": "sometimes"}, "QASHYQ_ICE_TRANSPORT_POLICY"),
        ({"QASHYQ_ICE_TRANSPORT_POLICY": "relay"}, "QASHYQ_ICE_TRANSPORT_POLICY"),
        ({"QASHYQ_RECONNECT_GRACE_S": "soon"}, "QASHYQ_RECONNECT_GRACE_S"),
        ({"QASHYQ_RECONNECT_GRACE_S": "-1"}, "QASHYQ_RECONNECT_GRACE_S"),
        ({"QASHYQ_TURN_TTL_S": "5", "QASHYQ_TURN_URLS": TURN, "QASHYQ_TURN_SECRET": "s"},
         "QASHYQ_TURN_TTL_S"),
    ],
)
def test_bad_network_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_turn_settings_reach_pages_and_the_sfu() -> None:
    settings = Settings.from_env({
        "QASHYQ_TURN_URLS": TURN, "QASHYQ_TURN_SECRET": "s3cret",
        "QASHYQ_ICE_TRANSPORT_POLICY": "relay", "QASHYQ_RECONNECT_GRACE_S": "90",
        "QASHYQ_STUN_URLS": "stun:turn.court.kz:3478",
    })
    assert settings.ice_transport_policy == "relay" and settings.reconnect_grace_s == 90
    stun, turn = ice_servers_for(settings, "p_1", clock=lambda: 1000.0)
    assert stun == {"urls": ["stun:turn.court.kz:3478"]}
    assert turn["urls"] == TURN.split(",")
    assert turn["username"] == f"{1000 + 4 * 3600}:p_1"
    # No UDP TURN URL: the SFU takes the first one (aiortc speaks TURN over TCP too).
    servers = sfu_ice_servers(settings)
    assert servers[-1].urls == ("turn:turn.court.kz:3478?transport=tcp",)
    assert "s3cret" not in repr(servers) and servers[-1].credential not in repr(servers)
