"""WS-Discovery (2005/04) client: find ONVIF cameras (dn:NetworkVideoTransmitter).

- ``scan()`` sends a Probe by multicast to 239.255.255.250:3702 out of every suitable
  interface (one socket per interface, IP_MULTICAST_IF set to its address) and by unicast
  to addresses or CIDR ranges the admin gives (cameras on routed networks). It collects
  ProbeMatches until its deadline: every scan is bounded in time.
- ``DiscoveryListener`` joins the group while the server runs and keeps what Hello and Bye
  announcements say.

Everything received is parsed with defusedxml; a datagram that is not a well-formed
WS-Discovery message is dropped with a logged reason. Devices are de-duplicated by their
endpoint reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import socket
import struct
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from vms_core.untrusted import bounded_text

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSDD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NVT_NS = "http://www.onvif.org/ver10/network/wsdl"
MAX_DATAGRAM = 65535
# A unicast range bigger than this is refused: a /16 would be 65k probes.
MAX_UNICAST_TARGETS = 4096
# Spacing of unicast probes, so a /22 does not burst 1000 datagrams at once.
UNICAST_BATCH = 64
# Reasons kept for refused replies in one scan: a flood of garbage must not grow the answer.
MAX_REJECTED = 100
# Longest name, hardware or location we keep from a device's scopes.
MAX_LABEL_CHARS = 128

# Linux ioctls and interface flags for listing interfaces without a subprocess.
_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_MULTICAST = 0x1000
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


class DiscoveryError(Exception):
    """A scan could not be run as asked (bad range, too many targets)."""


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    endpoint_reference: str
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    types: tuple[str, ...]
    address: str  # where the answer came from
    name: str = ""
    hardware: str = ""
    location: str = ""
    seen: float = 0.0  # time.time() of the last message

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_reference": self.endpoint_reference,
            "xaddrs": list(self.xaddrs),
            "scopes": list(self.scopes),
            "types": list(self.types),
            "address": self.address,
            "name": self.name,
            "hardware": self.hardware,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class WsdMessage:
    kind: str  # "ProbeMatches" | "Hello" | "Bye"
    relates_to: str
    devices: tuple[DiscoveredDevice, ...]


@dataclass(slots=True)
class ScanResult:
    devices: list[DiscoveredDevice] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    unicast_targets: int = 0
    rejected: list[str] = field(default_factory=list)  # why replies were dropped (first 100)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "devices": [d.to_json() for d in self.devices],
            "interfaces": self.interfaces,
            "unicast_targets": self.unicast_targets,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
        }


# -- messages ------------------------------------------------------------------------------


def probe_message(message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<e:Envelope xmlns:e="{SOAP12}" xmlns:w="{WSA}" xmlns:d="{WSDD}" xmlns:dn="{NVT_NS}">'
        f"<e:Header><w:MessageID>{message_id}</w:MessageID>"
        "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
        f"<w:Action>{WSDD}/Probe</w:Action></e:Header>"
        "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>"
        "</e:Envelope>"
    ).encode()


def scope_value(scopes: Iterable[str], kind: str) -> str:
    """The value of an ONVIF scope such as onvif://www.onvif.org/name/<value>."""
    prefix = f"onvif://www.onvif.org/{kind}/"
    for scope in scopes:
        if scope.startswith(prefix):
            return unquote(scope[len(prefix) :])
    return ""


def _text(element: Element | None, tag: str) -> str:
    found = None if element is None else element.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def parse_message(data: bytes, sender: str) -> WsdMessage:
    """Parse a WS-Discovery datagram. Raises ValueError with the reason it is refused."""
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"datagram of {len(data)} bytes")
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as err:
        raise ValueError(f"forbidden XML construct ({type(err).__name__})") from None
    except DET.ParseError as err:
        raise ValueError(f"not well-formed XML ({err})") from None
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise ValueError(f"not a SOAP 1.2 envelope (root {root.tag!r})")
    body = root.find(f"{{{SOAP12}}}Body")
    if body is None or len(body) == 0:
        raise ValueError("SOAP envelope without a body")
    content = body[0]
    if not content.tag.startswith(f"{{{WSDD}}}"):
        raise ValueError(f"not a WS-Discovery message ({content.tag!r})")
    kind = content.tag.rsplit("}", 1)[1]
    relates_to = _text(root.find(f"{{{SOAP12}}}Header"), f"{{{WSA}}}RelatesTo")
    if kind == "ProbeMatches":
        entries = content.findall(f"{{{WSDD}}}ProbeMatch")
    elif kind in ("Hello", "Bye"):
        entries = [content]
    else:
        raise ValueError(f"unexpected WS-Discovery message {kind}")
    devices = tuple(_device(entry, sender) for entry in entries)
    return WsdMessage(kind, relates_to, devices)


def _device(entry: Element, sender: str) -> DiscoveredDevice:
    reference = _text(entry.find(f"{{{WSA}}}EndpointReference"), f"{{{WSA}}}Address")
    if not reference:
        raise ValueError("match without an endpoint reference")
    scopes = tuple(_text(entry, f"{{{WSDD}}}Scopes").split())
    return DiscoveredDevice(
        endpoint_reference=reference,
        xaddrs=tuple(_text(entry, f"{{{WSDD}}}XAddrs").split()),
        scopes=scopes,
        types=tuple(_text(entry, f"{{{WSDD}}}Types").split()),
        address=sender,
        name=bounded_text(scope_value(scopes, "name"), MAX_LABEL_CHARS),
        hardware=bounded_text(scope_value(scopes, "hardware"), MAX_LABEL_CHARS),
        location=bounded_text(scope_value(scopes, "location"), MAX_LABEL_CHARS),
        seen=time.time(),
    )


def _is_video_transmitter(device: DiscoveredDevice) -> bool:
    # Some devices leave Types out of a match; a match to our typed probe still counts.
    return not device.types or any(
        t.rsplit(":", 1)[-1] == "NetworkVideoTransmitter" for t in device.types
    )


# -- interfaces and targets ----------------------------------------------------------------


def multicast_interfaces() -> list[str]:
    """IPv4 addresses of interfaces that are up, multicast-capable and not loopback."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request)[16:18])[0]
                if not flags & _IFF_UP or flags & _IFF_LOOPBACK or not flags & _IFF_MULTICAST:
                    continue
                address = socket.inet_ntoa(fcntl.ioctl(sock, _SIOCGIFADDR, request)[20:24])
            except OSError:
                continue  # no IPv4 address on it
            found.append(address)
    return found


def unicast_targets(specs: Sequence[str]) -> list[str]:
    """Addresses from "10.0.0.5", "10.0.0.0/24" style specs (hosts only, no network or
    broadcast address). Raises DiscoveryError for a bad spec or too many addresses."""
    targets: list[str] = []
    for spec in specs:
        try:
            network = ipaddress.ip_network(spec.strip(), strict=False)
        except ValueError:
            raise DiscoveryError(f"not an address or CIDR range: {spec!r}") from None
        if network.version != 4:
            raise DiscoveryError(f"IPv4 only (ONVIF cameras answer on IPv4): {spec!r}")
        if network.num_addresses > MAX_UNICAST_TARGETS:
            raise DiscoveryError(
                f"range {spec} has {network.num_addresses} addresses; at most "
                f"{MAX_UNICAST_TARGETS} per scan"
            )
        hosts = [network.network_address] if network.num_addresses == 1 else network.hosts()
        targets.extend(str(h) for h in hosts)
        if len(targets) > MAX_UNICAST_TARGETS:
            raise DiscoveryError(f"more than {MAX_UNICAST_TARGETS} addresses in one scan")
    return list(dict.fromkeys(targets))


# -- scanning ------------------------------------------------------------------------------


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, scan: _Scan) -> None:
        self.scan = scan

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.scan.received(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from hosts without a discovery service: normal in a range.
        log.debug("discovery socket: %s", exc)


class _Scan:
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.devices: dict[str, DiscoveredDevice] = {}
        self.rejected: list[str] = []  # the first MAX_REJECTED reasons

    def received(self, data: bytes, sender: str) -> None:
        try:
            message = parse_message(data, sender)
        except ValueError as err:
            if len(self.rejected) < MAX_REJECTED:
                reason = bounded_text(f"reply from {sender} refused: {err}")
                log.warning("WS-Discovery: %s", reason)
                self.rejected.append(reason)
            return
        if message.kind != "ProbeMatches":
            return  # Hello/Bye/Probe heard on the socket: not an answer to us
        if message.relates_to and message.relates_to != self.message_id:
            return  # an answer to someone else's probe
        for device in message.devices:
            if _is_video_transmitter(device):
                self.devices.setdefault(device.endpoint_reference, device)


def _socket_for(local: str, multicast: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((local, 0))
        if multicast:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def scan(
    *,
    multicast: bool = True,
    interfaces: Sequence[str] | None = None,
    targets: Sequence[str] = (),
    port: int = DISCOVERY_PORT,
    timeout: float = 3.0,  # noqa: ASYNC109 - how long the scan listens, not a cancel
) -> ScanResult:
    """Probe for ONVIF cameras; returns within ``timeout`` seconds (plus socket set-up).

    ``interfaces``: local IPv4 addresses to multicast from (default: every suitable one).
    ``targets``: addresses or CIDR ranges to probe by unicast, on ``port``.
    """
    started = time.monotonic()
    addresses = unicast_targets(targets)
    message_id = f"urn:uuid:{uuid.uuid4()}"
    state = _Scan(message_id)
    probe = probe_message(message_id)
    loop = asyncio.get_running_loop()
    transports: list[asyncio.DatagramTransport] = []
    result = ScanResult(unicast_targets=len(addresses))
    try:
        if multicast:
            for local in interfaces if interfaces is not None else multicast_interfaces():
                try:
                    sock = _socket_for(local, multicast=True)
                except OSError as err:
                    log.warning("WS-Discovery: cannot multicast from %s: %s", local, err)
                    continue
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Collector(state), sock=sock
                )
                transports.append(transport)
                with contextlib.suppress(OSError):
                    transport.sendto(probe, (MULTICAST_GROUP, DISCOVERY_PORT))
                result.interfaces.append(local)
        if addresses:
            # Any interface: answers come back on whichever route leads to the camera.
            sock = _socket_for("0.0.0.0", multicast=False)  # noqa: S104
            transport, _ = await loop.create_datagram_endpoint(lambda: _Collector(state), sock=sock)
            transports.append(transport)
            for index, address in enumerate(addresses):
                with contextlib.suppress(OSError):
                    transport.sendto(probe, (address, port))
                if index % UNICAST_BATCH == UNICAST_BATCH - 1:
                    await asyncio.sleep(0.005)
        await asyncio.sleep(max(0.0, timeout - (time.monotonic() - started)))
    finally:
        for transport in transports:
            transport.close()
    result.devices = sorted(state.devices.values(), key=lambda d: (d.name, d.address))
    result.rejected = state.rejected
    result.seconds = time.monotonic() - started
    return result


# -- Hello/Bye listener --------------------------------------------------------------------


class _Announcements(asyncio.DatagramProtocol):
    def __init__(self, listener: DiscoveryListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.listener.received(data, str(addr[0]))


class DiscoveryListener:
    """Keeps the cameras that announced themselves (Hello) and forgets those that left
    (Bye), on each given interface address (default: every suitable one)."""

    def __init__(self, interfaces: Sequence[str] | None = None) -> None:
        self.requested = interfaces
        self.devices: dict[str, DiscoveredDevice] = {}
        self.rejected = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        interfaces = list(self.requested) if self.requested is not None else multicast_interfaces()
        if not interfaces:
            log.info("WS-Discovery: no multicast interface; not listening for Hello/Bye")
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Only the groups this socket joined, on the interfaces it joined them on.
            sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
            sock.bind((MULTICAST_GROUP, DISCOVERY_PORT))
            joined = 0
            for local in interfaces:
                membership = struct.pack(
                    "4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton(local)
                )
                try:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
                    joined += 1
                except OSError as err:
                    log.warning("WS-Discovery: cannot join the group on %s: %s", local, err)
            sock.setblocking(False)
        except OSError as err:
            sock.close()
            log.warning("WS-Discovery: not listening for Hello/Bye: %s", err)
            return
        if not joined:
            sock.close()
            return
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Announcements(self), sock=sock
        )

    def received(self, data: bytes, sender: str) -> None:
        try:
            message = parse_message(data, sender)
        except ValueError as err:
            self.rejected += 1
            log.debug("WS-Discovery: announcement from %s refused: %s", sender, err)
            return
        for device in message.devices:
            if message.kind == "Hello" and _is_video_transmitter(device):
                self.devices[device.endpoint_reference] = device
            elif message.kind == "Bye":
                self.devices.pop(device.endpoint_reference, None)

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            await asyncio.sleep(0)
