"""Spans and gaps from segments."""

from __future__ import annotations

from vms_core.storage.timeline import Piece, spans_and_gaps

S = 1_000_000


def test_contiguous_segments_merge_and_holes_become_gaps() -> None:
    pieces = [
        Piece(10 * S, 20 * S, 5),
        Piece(20 * S + 40_000, 30 * S, 5),  # one RTP tick of jitter: same span
        Piece(36 * S, 50 * S, 7),
    ]
    spans, gaps = spans_and_gaps(pieces, 0, 60 * S)
    assert [(s.start_us, s.end_us, s.bytes, s.segments) for s in spans] == [
        (10 * S, 30 * S, 10, 2),
        (36 * S, 50 * S, 7, 1),
    ]
    assert gaps == [(0, 10 * S), (30 * S, 36 * S), (50 * S, 60 * S)]


def test_spans_are_clipped_to_the_range() -> None:
    spans, gaps = spans_and_gaps([Piece(0, 100 * S, 1)], 40 * S, 50 * S)
    assert [(s.start_us, s.end_us) for s in spans] == [(40 * S, 50 * S)]
    assert gaps == []
