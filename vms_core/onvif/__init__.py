"""ONVIF: finding cameras and talking to them.

- ``discovery``: WS-Discovery Probe by multicast (every suitable interface) and by unicast
  to addresses/CIDR ranges, bounded in time; ``DiscoveryListener`` for Hello/Bye.
- ``client``: ``OnvifDevice`` on onvif-zeep-async, every call bounded in time and every
  reply size-capped and checked with defusedxml; failures are ``OnvifUnauthorized``,
  ``OnvifUnreachable``, ``OnvifBadReply`` or ``OnvifError`` with a reason.
- ``events``: PullPoint subscriptions and typed motion/tamper notifications.
- ``scans``: discovery scans the API starts and polls.

What the server does with cameras (catalog, health, PTZ, snapshots) is in
``vms_core.cameras``.
"""
