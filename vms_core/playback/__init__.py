"""Playback of recordings: any time range of a camera as one browser-playable fragmented
MP4, remuxed (never re-encoded) from the recorded segments while it is streamed.

``remux_range`` (remux.py) is the engine, shared with evidence export; ``PlaybackStream``
(stream.py) runs it in a thread for an HTTP response; ``segments_in_range`` (catalog.py)
finds the files. The HTTP endpoint is in ``vms_core.api.routes.playback``.
"""

from vms_core.playback.catalog import segments_in_range
from vms_core.playback.remux import (
    FASTSTART,
    FRAGMENTED,
    Gap,
    Output,
    RemuxResult,
    SourceSegment,
    gaps_between,
    remux_range,
)
from vms_core.playback.stream import PlaybackStream

__all__ = [
    "FASTSTART",
    "FRAGMENTED",
    "Gap",
    "Output",
    "PlaybackStream",
    "RemuxResult",
    "SourceSegment",
    "gaps_between",
    "remux_range",
    "segments_in_range",
]
