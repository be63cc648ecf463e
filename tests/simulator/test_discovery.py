"""WS-Discovery answered on loopback, unicast (no multicast leaves this namespace)."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from tests.simulator.wsd_prober import probe, probe_message
from vms_core.simulator.discovery import parse_probe
from vms_core.simulator.simulator import Simulator


async def _probe(
    simulator: Simulator, types: str = "dn:NetworkVideoTransmitter", seconds: float = 0.5
):  # type: ignore[no-untyped-def]
    assert simulator.discovery is not None
    return await asyncio.to_thread(
        probe, "127.0.0.1", "127.0.0.1", simulator.discovery.port, seconds, types
    )


async def test_unicast_probe_finds_every_camera_with_its_xaddrs(simulator: Simulator) -> None:
    message_id, answers = await _probe(simulator)
    by_reference = {a["address"]: a for a in answers}
    assert len(answers) == len(simulator.cameras) == 2
    for info in simulator.cameras:
        answer = by_reference[info.endpoint_reference]
        assert answer["kind"] == "ProbeMatches"
        assert answer["relates_to"] == message_id
        assert answer["xaddrs"] == [info.onvif_url]
        assert f"onvif://www.onvif.org/name/{info.name}" in answer["scopes"]
        assert "onvif://www.onvif.org/Profile/Streaming" in answer["scopes"]
        assert "NetworkVideoTransmitter" in answer["types"]
        assert urlsplit(answer["xaddrs"][0]).hostname == "127.0.0.1"


async def test_probe_without_types_is_answered_and_other_types_are_not(
    simulator: Simulator,
) -> None:
    _, answers = await _probe(simulator, types="")
    assert len(answers) == 2
    _, answers = await _probe(simulator, types="tp:Printer", seconds=0.3)
    assert answers == []


async def test_garbage_is_ignored_and_the_target_keeps_answering(simulator: Simulator) -> None:
    assert simulator.discovery is not None
    port = simulator.discovery.port
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for junk in (b"\x00\xff garbage", b"<not xml", bomb, probe_message("")):
            sock.sendto(junk, ("127.0.0.1", port))
    _, answers = await _probe(simulator)
    assert len(answers) == 2
    assert parse_probe(bomb) is None


async def test_endpoint_reference_is_stable_across_restarts(simulator: Simulator) -> None:
    again = Simulator(simulator.config)
    await again.start()
    try:
        assert [c.endpoint_reference for c in again.cameras] == [
            c.endpoint_reference for c in simulator.cameras
        ]
        assert len({c.endpoint_reference for c in again.cameras}) == 2
    finally:
        await again.stop()
