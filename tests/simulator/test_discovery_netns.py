"""Multicast WS-Discovery between two network namespaces joined by a veth pair."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.simulator.netns import NamespacePair
from tests.simulator.wsd_prober import GROUP, PORT

PROBER = str(Path(__file__).with_name("wsd_prober.py"))


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_hello_multicast_probe_and_bye_between_namespaces(
    namespace_pair: NamespacePair,
) -> None:
    pair = namespace_pair
    # Listener in the client namespace: expects 2 Hello + 2 Bye.
    listener = subprocess.Popen(
        pair.command(pair.client_ns, sys.executable, PROBER, "listen", pair.client_ip, "30", "4"),
        stdout=subprocess.PIPE,
        text=True,
    )
    simulator = None
    try:
        assert listener.stdout is not None
        assert json.loads(listener.stdout.readline()) == {"ready": True}
        simulator = subprocess.Popen(
            pair.command(
                pair.camera_ns,
                sys.executable,
                "-m",
                "vms_core.simulator",
                "--cameras",
                "2",
                "--host",
                pair.camera_ip,
                "--json",
                "--no-media",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert simulator.stdout is not None
        cameras = [json.loads(simulator.stdout.readline()) for _ in range(2)]
        references = {c["endpoint_reference"] for c in cameras}

        probe = subprocess.run(
            pair.command(
                pair.client_ns,
                sys.executable,
                PROBER,
                "probe",
                pair.client_ip,
                GROUP,
                str(PORT),
                "1.5",
            ),
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        answers = _json_lines(probe.stdout)
        assert {a["address"] for a in answers} == references
        for answer in answers:
            assert answer["kind"] == "ProbeMatches"
            assert answer["from"] == pair.camera_ip  # unicast, from the camera's address
            assert answer["relates_to"] == answer["probe_id"]
            assert answer["xaddrs"][0].startswith(f"http://{pair.camera_ip}:")
        assert {a["xaddrs"][0] for a in answers} == {c["onvif_url"] for c in cameras}

        simulator.send_signal(signal.SIGTERM)
        assert simulator.wait(timeout=15) == 0
        heard, _ = listener.communicate(timeout=15)
        messages = _json_lines(heard)
        hellos = {m["address"] for m in messages if m["kind"] == "Hello"}
        byes = {m["address"] for m in messages if m["kind"] == "Bye"}
        assert hellos == references
        assert byes == references
        assert all(m["from"] == pair.camera_ip for m in messages)
    finally:
        for process in (simulator, listener):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
