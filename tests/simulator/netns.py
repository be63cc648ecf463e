"""Two network namespaces joined by a veth pair, for tests that send real multicast.

Multicast never leaves the test's own namespaces: the simulator runs in one, the client in
the other, and the only link between them is the veth pair.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class NamespacePair:
    camera_ns: str
    client_ns: str
    camera_ip: str
    client_ip: str

    def command(self, namespace: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=10)


def netns_available() -> str | None:
    """None if we can create namespaces, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2"
    return None


@pytest.fixture
def namespace_pair() -> Iterator[NamespacePair]:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    pair = NamespacePair(f"vmscam-{tag}", f"vmscli-{tag}", "10.213.0.1", "10.213.0.2")
    veth_camera, veth_client = f"vc{tag}", f"vk{tag}"
    try:
        _ip("netns", "add", pair.camera_ns)
        _ip("netns", "add", pair.client_ns)
        _ip("link", "add", veth_camera, "type", "veth", "peer", "name", veth_client)
        for ns, dev, address in (
            (pair.camera_ns, veth_camera, pair.camera_ip),
            (pair.client_ns, veth_client, pair.client_ip),
        ):
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "multicast", "on")
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield pair
    finally:
        # Deleting a namespace deletes the veth end inside it, and so the pair.
        for ns in (pair.camera_ns, pair.client_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", veth_camera], capture_output=True, timeout=10)
