"""Loopback ICE candidates: a small adapter over aioice.

aioice gathers host candidates from every interface except loopback, and its
``Connection`` has no option to change that. A server whose only interface is loopback
(a network namespace, a test run under ``unshare -n``, a browser on the same machine)
then offers no candidate at all and ICE fails. ``set_loopback_policy`` wraps aioice's
address lookup (process-wide: aioice reads it from its module):

- ``auto``: add 127.0.0.1 only when the machine has no other address;
- ``include``: always add them (browsers elsewhere just fail those pairs);
- ``only``: offer loopback alone (tests and benchmarks that must stay on 127.0.0.1).

Chromium skips loopback candidates unless started with
``--allow-loopback-in-peer-connection``.
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice

from vms_core.webrtc.whep import LoopbackPolicy

__all__ = ["LoopbackPolicy", "host_addresses", "set_loopback_policy"]

_original: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_policy: LoopbackPolicy = "auto"


def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The addresses aioice gathers host candidates on, under the current policy."""
    found = [] if _policy == "only" else _original(use_ipv4, use_ipv6)
    if _policy == "auto" and found:
        return found
    # IPv4 loopback only: ::1 is missing in some namespaces and adds nothing here.
    loopback = ["127.0.0.1"] if use_ipv4 else []
    return found + [a for a in loopback if a not in found]


def set_loopback_policy(policy: LoopbackPolicy) -> None:
    global _policy
    _policy = policy
    aioice.ice.get_host_addresses = host_addresses
