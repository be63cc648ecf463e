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


# Runs in the client namespace: the server's Hello/Bye listener on every suitable interface,
# printing what it knows whenever that changes.
LISTENER = """
import asyncio, json, sys
from vms_core.onvif.discovery import DiscoveryListener

async def main():
    listener = DiscoveryListener()
    await listener.start()
    print(json.dumps({"ready": True}), flush=True)
    known = None
    for _ in range(300):
        names = sorted(d.name for d in listener.devices.values())
        if names != known:
            known = names
            print(json.dumps(names), flush=True)
        await asyncio.sleep(0.05)
    await listener.stop()

asyncio.run(main())
"""


def test_listener_hears_hello_and_bye_between_namespaces(namespace_pair: NamespacePair) -> None:
    pair = namespace_pair
    listener = subprocess.Popen(
        pair.command(pair.client_ns, sys.executable, "-c", LISTENER),
        stdout=subprocess.PIPE,
        text=True,
    )
    simulator = None
    try:
        assert listener.stdout is not None
        assert json.loads(listener.stdout.readline()) == {"ready": True}
        assert json.loads(listener.stdout.readline()) == []
        simulator = subprocess.Popen(
            pair.command(
                pair.camera_ns,
                VMS,
                "simulate",
                "--cameras",
                "2",
                "--host",
                pair.camera_ip,
                "--no-media",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        heard = [json.loads(listener.stdout.readline())]
        if len(heard[-1]) < 2:
            heard.append(json.loads(listener.stdout.readline()))
        assert heard[-1] == ["sim-cam-1", "sim-cam-2"]
        simulator.send_signal(signal.SIGTERM)
        assert simulator.wait(timeout=15) == 0
        left = json.loads(listener.stdout.readline())
        if left:
            left = json.loads(listener.stdout.readline())
        assert left == []
    finally:
        for process in (simulator, listener):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
