"""WS-Discovery scans on loopback (unicast), `vms discover --json`, and hostile replies."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.loops import sim_config
from tests.onvif.conftest import sim_camera
from vms_core.onvif.discovery import (
    DiscoveryError,
    DiscoveryListener,
    parse_message,
    scan,
    unicast_targets,
)
from vms_core.simulator.discovery import DiscoveryEndpoint, _Sequence, hello_message
from vms_core.simulator.simulator import Simulator

# The `vms` console script of this virtualenv.
VMS = str(Path(sys.executable).with_name("vms"))


@pytest.fixture
async def five_cameras() -> AsyncIterator[Simulator]:
    sim = Simulator(
        sim_config(
            cameras=[sim_camera(i) for i in range(1, 6)],
            discovery_port=0,
            discovery_multicast=False,
            media=False,
        )
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_unicast_scan_of_a_range_finds_every_camera_once(five_cameras: Simulator) -> None:
    assert five_cameras.discovery is not None
    port = five_cameras.discovery.port
    started = time.monotonic()
    # The /30 holds 127.0.0.1 and .2; the explicit address makes .1 probed twice.
    result = await scan(
        multicast=False, targets=["127.0.0.0/30", "127.0.0.1"], port=port, timeout=1.0
    )
    assert time.monotonic() - started < 2.0
    assert result.unicast_targets == 2
    by_name = {d.name: d for d in result.devices}
    assert sorted(by_name) == [f"sim-cam-{i}" for i in range(1, 6)]
    for info in five_cameras.cameras:
        device = by_name[info.name]
        assert device.endpoint_reference == info.endpoint_reference
        assert device.xaddrs == (info.onvif_url,)
        assert device.hardware == info.model
        assert device.location
        assert "dn:NetworkVideoTransmitter" in device.types
        assert device.address == "127.0.0.1"


async def test_vms_discover_cli_unicast(five_cameras: Simulator) -> None:
    assert five_cameras.discovery is not None
    process = await asyncio.create_subprocess_exec(
        VMS,
        "discover",
        "--json",
        "--no-multicast",
        "--range",
        "127.0.0.1/32",
        "--port",
        str(five_cameras.discovery.port),
        "--timeout",
        "1",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    output = json.loads(stdout)
    assert sorted(d["name"] for d in output["devices"]) == [f"sim-cam-{i}" for i in range(1, 6)]
    assert {d["xaddrs"][0] for d in output["devices"]} == {
        c.onvif_url for c in five_cameras.cameras
    }


def test_ranges_are_validated_and_bounded() -> None:
    assert unicast_targets(["10.1.2.0/30"]) == ["10.1.2.1", "10.1.2.2"]
    assert unicast_targets(["10.1.2.3"]) == ["10.1.2.3"]
    with pytest.raises(DiscoveryError, match="not an address"):
        unicast_targets(["camera.local"])
    with pytest.raises(DiscoveryError, match="IPv4 only"):
        unicast_targets(["fd00::/126"])
    with pytest.raises(DiscoveryError, match="at most"):
        unicast_targets(["10.0.0.0/8"])


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>&c;</e:Body>'
    b"</e:Envelope>"
)
WRONG_NAMESPACE = (
    b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
    b'<d:ProbeMatches xmlns:d="http://example.com/not-discovery"/></e:Body></e:Envelope>'
)


def _good_match_for(relates_to: str) -> bytes:
    endpoint = DiscoveryEndpoint(
        "urn:uuid:00000000-0000-0000-0000-000000000001",
        ("http://127.0.0.1:1/onvif/device_service",),
        ("onvif://www.onvif.org/name/good",),
    )
    from vms_core.simulator.discovery import probe_matches_message

    return probe_matches_message(endpoint, relates_to, _Sequence())


class _HostileResponder(asyncio.DatagramProtocol):
    """Answers every probe with each kind of broken reply, then one good one."""

    def __init__(self, replies: list[Callable[[str], bytes]]) -> None:
        self.replies = replies
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        message_id = data.split(b"<w:MessageID>")[1].split(b"<")[0].decode()
        assert self.transport is not None
        for reply in self.replies:
            self.transport.sendto(reply(message_id), addr)


async def test_hostile_discovery_replies_are_refused_with_a_reason_and_the_scan_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replies: list[Callable[[str], bytes]] = [
        lambda mid: _good_match_for(mid)[:200],  # truncated
        lambda mid: BILLION_LAUGHS,
        lambda mid: WRONG_NAMESPACE,
        lambda mid: b"\x00" * 60000,  # garbage, nearly a full datagram
        _good_match_for,
    ]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _HostileResponder(replies), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        with caplog.at_level(logging.WARNING, logger="vms_core.onvif.discovery"):
            started = time.monotonic()
            result = await scan(multicast=False, targets=["127.0.0.1"], port=port, timeout=0.8)
            assert time.monotonic() - started < 2.0
    finally:
        transport.close()
    assert [d.name for d in result.devices] == ["good"]
    assert len(result.rejected) == 4
    reasons = " | ".join(result.rejected)
    assert "not well-formed" in reasons
    assert "forbidden XML construct" in reasons
    assert "not a SOAP 1.2 envelope" in reasons
    assert reasons.count("refused") == 4
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 4


def test_parse_message_reads_hello_and_bye() -> None:
    endpoint = DiscoveryEndpoint(
        "urn:uuid:abc",
        ("http://10.0.0.5/onvif/device_service",),
        ("onvif://www.onvif.org/name/Front%20Door", "onvif://www.onvif.org/location/lobby"),
    )
    hello = parse_message(hello_message(endpoint, _Sequence()), "10.0.0.5")
    assert hello.kind == "Hello"
    assert hello.devices[0].name == "Front Door"
    assert hello.devices[0].location == "lobby"


async def test_listener_keeps_hello_and_forgets_bye() -> None:
    # Fed directly: joining the multicast group needs an interface of a test namespace.
    listener = DiscoveryListener(interfaces=[])
    await listener.start()
    endpoint = DiscoveryEndpoint("urn:uuid:abc", ("http://10.0.0.5/onvif",), ())
    from vms_core.simulator.discovery import bye_message

    listener.received(hello_message(endpoint, _Sequence()), "10.0.0.5")
    assert list(listener.devices) == ["urn:uuid:abc"]
    listener.received(b"<not xml", "10.0.0.6")
    assert listener.rejected == 1
    listener.received(bye_message(endpoint, _Sequence()), "10.0.0.5")
    assert listener.devices == {}
    await listener.stop()
