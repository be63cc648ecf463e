"""A camera's recorded time as a timeline: segments merged into spans, and the gaps.

Segments of one connection are contiguous (each ends where the next begins); RTP
timestamps jitter by a tick, so neighbours closer than ``join_us`` count as one span.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Piece:
    start_us: int
    end_us: int
    bytes: int


@dataclass(slots=True)
class Span:
    start_us: int
    end_us: int
    bytes: int
    segments: int


def spans_and_gaps(
    pieces: Iterable[Piece], start_us: int, end_us: int, join_us: int = 500_000
) -> tuple[list[Span], list[tuple[int, int]]]:
    """Spans (clipped to [start_us, end_us]) and the gaps between them, the range's
    edges included. ``end_us`` should not lie in the future: the future is no gap."""
    spans: list[Span] = []
    for piece in sorted(pieces, key=lambda p: p.start_us):
        if piece.end_us <= start_us or piece.start_us >= end_us:
            continue
        last = spans[-1] if spans else None
        if last is not None and piece.start_us <= last.end_us + join_us:
            last.end_us = max(last.end_us, piece.end_us)
            last.bytes += piece.bytes
            last.segments += 1
        else:
            spans.append(Span(piece.start_us, piece.end_us, piece.bytes, 1))
    for span in spans:
        span.start_us = max(span.start_us, start_us)
        span.end_us = min(span.end_us, end_us)
    gaps: list[tuple[int, int]] = []
    cursor = start_us
    for span in spans:
        if span.start_us - cursor > join_us:
            gaps.append((cursor, span.start_us))
        cursor = max(cursor, span.end_us)
    if end_us - cursor > join_us:
        gaps.append((cursor, end_us))
    return spans, gaps
