"""`vms discover` finds `vms simulate --cameras 8` by multicast, between two network
namespaces joined by a veth pair (multicast never leaves the test's namespaces)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.simulator.netns import NamespacePair

VMS = str(Path(sys.executable).with_name("vms"))


def test_vms_discover_finds_all_eight_simulated_cameras_by_multicast(
    namespace_pair: NamespacePair,
) -> None:
    pair = namespace_pair
    simulator = subprocess.Popen(
        pair.command(
            pair.camera_ns,
            VMS,
            "simulate",
            "--cameras",
            "8",
            "--host",
            pair.camera_ip,
            "--json",
            "--no-media",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert simulator.stdout is not None
        cameras = [json.loads(simulator.stdout.readline()) for _ in range(8)]
        discover = subprocess.run(
            pair.command(pair.client_ns, VMS, "discover", "--json", "--timeout", "3"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert discover.returncode == 0, discover.stderr
        found = json.loads(discover.stdout)
        assert found["interfaces"] == [pair.client_ip]  # the veth only: not loopback
        assert found["seconds"] < 4
        assert sorted(d["endpoint_reference"] for d in found["devices"]) == sorted(
            c["endpoint_reference"] for c in cameras
        )
        by_name = {d["name"]: d for d in found["devices"]}
        assert sorted(by_name) == sorted(c["name"] for c in cameras)
        for camera in cameras:
            device = by_name[camera["name"]]
            assert device["xaddrs"] == [camera["onvif_url"]]
            assert device["address"] == pair.camera_ip
            assert device["hardware"] == camera["model"]

        # The table form names them too.
        table = subprocess.run(
            pair.command(pair.client_ns, VMS, "discover", "--timeout", "1.5"),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert "8 camera(s)" in table.stdout
    finally:
        simulator.send_signal(signal.SIGTERM)
        try:
            simulator.wait(timeout=15)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
