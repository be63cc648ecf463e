"""A plain WS-Discovery client for the tests: raw sockets, no library.

Run as a script (inside a network namespace) or import ``probe``:

    python wsd_prober.py probe  <our address> <target host> <target port> <seconds>
    python wsd_prober.py listen <our address> <seconds> <stop after N messages>

Prints one JSON object per received message: {"kind", "from", "address", "xaddrs",
"relates_to", "scopes"}; ``listen`` prints {"ready": true} once it has joined the group.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as DET

GROUP = "239.255.255.250"
PORT = 3702
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSDD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"


def probe_message(message_id: str, types: str = "dn:NetworkVideoTransmitter") -> bytes:
    types_xml = f"<d:Types>{types}</d:Types>" if types else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:w="{WSA}" xmlns:d="{WSDD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        f"<e:Header><w:MessageID>{message_id}</w:MessageID>"
        "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
        f"<w:Action>{WSDD}/Probe</w:Action></e:Header>"
        f"<e:Body><d:Probe>{types_xml}</d:Probe></e:Body></e:Envelope>"
    ).encode()


def _text(root: ET.Element, path: str) -> str:
    return (root.findtext(path, namespaces={"a": WSA, "d": WSDD}) or "").strip()


def describe(data: bytes, sender: tuple[str, int]) -> dict[str, Any] | None:
    try:
        root = DET.fromstring(data)
    except Exception:
        return None
    body = root.find("{http://www.w3.org/2003/05/soap-envelope}Body")
    if body is None or len(body) == 0:
        return None
    kind = body[0].tag.rsplit("}", 1)[-1]
    return {
        "kind": kind,
        "from": sender[0],
        "address": _text(body, ".//a:EndpointReference/a:Address"),
        "xaddrs": _text(body, ".//d:XAddrs").split(),
        "scopes": _text(body, ".//d:Scopes").split(),
        "types": _text(body, ".//d:Types"),
        "relates_to": _text(root, ".//a:RelatesTo"),
    }


def probe(
    local: str,
    target: str,
    target_port: int,
    seconds: float,
    types: str = "dn:NetworkVideoTransmitter",
) -> tuple[str, list[dict[str, Any]]]:
    """Send one Probe (multicast when target is the group) and collect the answers."""
    message_id = f"urn:uuid:{uuid.uuid4()}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local, 0))
        if target == GROUP:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.sendto(probe_message(message_id, types), (target, target_port))
        return message_id, _collect(sock, seconds, stop_after=None)


def _collect(sock: socket.socket, seconds: float, stop_after: int | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (stop_after is None or len(found) < stop_after):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, sender = sock.recvfrom(65535)
        except TimeoutError:
            break
        message = describe(data, sender)
        # A listener also hears probes sent on its link (its own included): not ours to count.
        if message is not None and not (stop_after is not None and message["kind"] == "Probe"):
            found.append(message)
            if stop_after is not None:
                print(json.dumps(message), flush=True)
    return found


def listen(local: str, seconds: float, stop_after: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((GROUP, PORT))
        membership = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(local))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        print(json.dumps({"ready": True}), flush=True)
        _collect(sock, seconds, stop_after=stop_after)


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        message_id, answers = probe(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        for answer in answers:
            answer["probe_id"] = message_id
            print(json.dumps(answer), flush=True)
    else:
        listen(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
