"""Plate text: what counts as a plate, and the key that makes OCR confusions match."""

from __future__ import annotations

# Characters OCR engines (and people reading a report) mix up. Folding each pair onto one
# character gives a key under which ``A8C1234`` and ``ABC1234`` are the same plate.
_CONFUSIONS = str.maketrans("OIBSZ", "01852")

MIN_LENGTH = 5
MAX_LENGTH = 8


def clean(text: str) -> str:
    """Uppercase letters and digits of ``text``, everything else dropped."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def plausible(plate: str) -> bool:
    """Whether cleaned ``plate`` looks like a licence plate: 5-8 characters with at least
    one letter and one digit (rules out shop signs, clocks and street names)."""
    return (
        MIN_LENGTH <= len(plate) <= MAX_LENGTH
        and any(c.isalpha() for c in plate)
        and any(c.isdigit() for c in plate)
    )


def fold(text: str) -> str:
    """The confusion-folded search key of ``text`` (cleaned first)."""
    return clean(text).translate(_CONFUSIONS)
