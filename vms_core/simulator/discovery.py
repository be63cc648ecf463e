"""WS-Discovery (2005/04) target for the simulated cameras: Hello, Bye, Probe -> ProbeMatches.

One target serves every camera of the simulator: it answers a Probe with one ProbeMatches
per camera. Two sockets:

- a unicast socket bound to (host, port): probes sent straight to us arrive here, and every
  message we send leaves from it, so the source address is the camera's;
- a multicast socket bound to 239.255.255.250:3702 and joined to the group on the interface
  of ``host`` only (IP_ADD_MEMBERSHIP with that address, IP_MULTICAST_ALL off).

Outgoing multicast (Hello/Bye) leaves on the interface of ``host`` (IP_MULTICAST_IF) with
TTL 1. A wildcard or IPv6 host gets no multicast at all: we would not know which interface
it is allowed to leave on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
import struct
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from vms_core.simulator.soap import child, child_text, text

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
MAX_DATAGRAM = 65535
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSDD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
ANONYMOUS = f"{WSA}/role/anonymous"
DISCOVERY_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
DEVICE_TYPES = "dn:NetworkVideoTransmitter tds:Device"
# Local names of the types we are; probes naming others get no answer.
_OUR_TYPE_NAMES = frozenset({"NetworkVideoTransmitter", "Device"})
# Linux socket option; Python's socket module does not name it.
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)

_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
    f'xmlns:wsa="{WSA}" xmlns:wsdd="{WSDD}" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
)


@dataclass(frozen=True, slots=True)
class DiscoveryEndpoint:
    """What one camera announces."""

    endpoint_reference: str  # "urn:uuid:..."; stable per camera
    xaddrs: Sequence[str]
    scopes: Sequence[str]
    types: str = DEVICE_TYPES
    metadata_version: int = 1


@dataclass(slots=True)
class _Sequence:
    instance_id: int = field(default_factory=lambda: int(time.time()))
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_xml(self) -> str:
        return (
            f'<wsdd:AppSequence InstanceId="{self.instance_id}" '
            f'MessageNumber="{next(self.counter)}"/>'
        )


def _message(action: str, to: str, body: str, sequence: _Sequence, relates_to: str = "") -> bytes:
    relates = f"<wsa:RelatesTo>{text(relates_to)}</wsa:RelatesTo>" if relates_to else ""
    return (
        f"{_ENVELOPE_OPEN}<SOAP-ENV:Header>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>{relates}"
        f"<wsa:To>{text(to)}</wsa:To><wsa:Action>{WSDD}/{action}</wsa:Action>"
        f"{sequence.next_xml()}</SOAP-ENV:Header>"
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def _endpoint_fields(endpoint: DiscoveryEndpoint, with_details: bool = True) -> str:
    reference = (
        f"<wsa:EndpointReference><wsa:Address>{text(endpoint.endpoint_reference)}"
        "</wsa:Address></wsa:EndpointReference>"
    )
    if not with_details:
        return reference
    return (
        f"{reference}<wsdd:Types>{text(endpoint.types)}</wsdd:Types>"
        f"<wsdd:Scopes>{text(' '.join(endpoint.scopes))}</wsdd:Scopes>"
        f"<wsdd:XAddrs>{text(' '.join(endpoint.xaddrs))}</wsdd:XAddrs>"
        f"<wsdd:MetadataVersion>{endpoint.metadata_version}</wsdd:MetadataVersion>"
    )


def hello_message(endpoint: DiscoveryEndpoint, sequence: _Sequence) -> bytes:
    body = f"<wsdd:Hello>{_endpoint_fields(endpoint)}</wsdd:Hello>"
    return _message("Hello", DISCOVERY_TO, body, sequence)


def bye_message(endpoint: DiscoveryEndpoint, sequence: _Sequence) -> bytes:
    body = f"<wsdd:Bye>{_endpoint_fields(endpoint, with_details=False)}</wsdd:Bye>"
    return _message("Bye", DISCOVERY_TO, body, sequence)


def probe_matches_message(
    endpoint: DiscoveryEndpoint, relates_to: str, sequence: _Sequence
) -> bytes:
    body = (
        f"<wsdd:ProbeMatches><wsdd:ProbeMatch>{_endpoint_fields(endpoint)}"
        "</wsdd:ProbeMatch></wsdd:ProbeMatches>"
    )
    return _message("ProbeMatches", ANONYMOUS, body, sequence, relates_to=relates_to)


@dataclass(frozen=True, slots=True)
class Probe:
    message_id: str
    type_names: frozenset[str]  # local names, e.g. {"NetworkVideoTransmitter"}
    scopes: tuple[str, ...]


def parse_probe(datagram: bytes) -> Probe | None:
    """A Probe, or None for anything else (other messages, garbage, hostile XML)."""
    try:
        root = DET.fromstring(datagram, forbid_dtd=True)
    except (DET.ParseError, DefusedXmlException, ValueError):
        return None
    header = child(root, "Header")
    probe = child(child(root, "Body"), "Probe")
    if probe is None or probe.tag != f"{{{WSDD}}}Probe":
        return None
    message_id = child_text(header, "MessageID")
    if not message_id:
        return None
    types = (child_text(probe, "Types") or "").split()
    return Probe(
        message_id=message_id,
        type_names=frozenset(t.rsplit(":", 1)[-1] for t in types),
        scopes=tuple((child_text(probe, "Scopes") or "").split()),
    )


def _scope_matches(wanted: str, offered: Sequence[str]) -> bool:
    # RFC 3986 matching as WS-Discovery defines it: a wanted scope matches an offered one
    # that equals it or extends it by whole path segments.
    wanted = wanted.rstrip("/")
    return any(s == wanted or s.startswith(wanted + "/") for s in offered)


def probe_matches(probe: Probe, endpoint: DiscoveryEndpoint) -> bool:
    if not probe.type_names <= _OUR_TYPE_NAMES:
        return False
    return all(_scope_matches(scope, endpoint.scopes) for scope in probe.scopes)


def multicast_allowed(host: str) -> bool:
    """Only a concrete IPv4 address names the one interface multicast may use."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and not address.is_unspecified and not address.is_multicast


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, target: DiscoveryTarget) -> None:
        self.target = target

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.target.handle_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("discovery socket error: %s", exc)


class DiscoveryTarget:
    """Announces ``endpoints`` and answers probes for them."""

    def __init__(
        self,
        host: str,
        endpoints: Sequence[DiscoveryEndpoint],
        port: int = DISCOVERY_PORT,
        multicast: bool = True,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.endpoints = list(endpoints)
        self.multicast = multicast and multicast_allowed(host)
        self.port = 0
        self.probes_answered = 0
        self._sequence = _Sequence()
        self._unicast: asyncio.DatagramTransport | None = None
        self._group: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        unicast_socket = self._unicast_socket()
        self.port = int(unicast_socket.getsockname()[1])
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(self), sock=unicast_socket
        )
        self._unicast = transport
        if self.multicast:
            try:
                group_socket = self._group_socket()
            except OSError as err:
                log.warning("WS-Discovery: no multicast on %s (%s)", self.host, err)
                self.multicast = False
            else:
                self._group, _ = await loop.create_datagram_endpoint(
                    lambda: _Receiver(self), sock=group_socket
                )
        for endpoint in self.endpoints:
            self._send_multicast(hello_message(endpoint, self._sequence))

    async def stop(self) -> None:
        for endpoint in self.endpoints:
            self._send_multicast(bye_message(endpoint, self._sequence))
        for transport in (self._group, self._unicast):
            if transport is not None:
                transport.close()
        self._group = self._unicast = None
        # Let the transports' close callbacks run so the sockets are really closed.
        await asyncio.sleep(0)

    def _unicast_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            if self.multicast:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.host)
                )
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _group_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # Several simulators (and real clients) may listen on the group port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.bind((MULTICAST_GROUP, DISCOVERY_PORT))
            membership = struct.pack(
                "4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton(self.host)
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _send_multicast(self, message: bytes) -> None:
        if not self.multicast or self._unicast is None:
            return
        with contextlib.suppress(OSError):
            self._unicast.sendto(message, (MULTICAST_GROUP, DISCOVERY_PORT))

    def handle_datagram(self, data: bytes, sender: tuple[str, int]) -> None:
        probe = parse_probe(data)
        if probe is None or self._unicast is None:
            return
        for endpoint in self.endpoints:
            if probe_matches(probe, endpoint):
                # Answers go unicast to whoever asked, from our own address.
                self._unicast.sendto(
                    probe_matches_message(endpoint, probe.message_id, self._sequence), sender
                )
                self.probes_answered += 1
