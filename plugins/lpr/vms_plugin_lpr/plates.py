"""Plate text: what counts as a plate (formats by region), and the key that makes OCR
confusions match."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Characters OCR engines (and people reading a report) mix up. Folding each pair onto one
# character gives a key under which ``A8C1234`` and ``ABC1234`` are the same plate.
_CONFUSIONS = str.maketrans("OIBSZ", "01852")
# Which character a misread one may really be, for fitting a read to a plate format
# (``AB12CD8`` is ``AB12CDB`` where the format wants a letter last).
_LOOKALIKES: Mapping[str, str] = {
    "0": "OD",
    "O": "0",
    "D": "0",
    "Q": "0",
    "1": "I",
    "I": "1",
    "8": "B",
    "B": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6",
}
# Positions tried at once when fitting a read to a format: 2**4 variants at most per
# choice of positions, and reads are short.
_MAX_FIXES = 2

ANY_REGION = "any"
# Letters and digits, at least one of each, 4 to 10 characters: "ABC1234", "7XYZ123",
# "AB12CDE", "KA05MN4321". Rules out words (shop signs, street names) and bare numbers.
DEFAULT_PATTERN = r"(?=.*[0-9])(?=.*[A-Z])[A-Z0-9]{4,10}"
DEFAULT_FORMATS: Mapping[str, tuple[str, ...]] = {ANY_REGION: (DEFAULT_PATTERN,)}
MAX_PATTERN_CHARS = 200
MAX_TEXT_CHARS = 16  # longer OCR output is not a plate (and is not searched for variants)


def clean(text: str) -> str:
    """Uppercase letters and digits of ``text``, everything else dropped."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def fold(text: str) -> str:
    """The confusion-folded search key of ``text`` (cleaned first)."""
    return clean(text).translate(_CONFUSIONS)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, checked to be usable as a plate format.

    :raises ValueError: saying what is wrong with it.
    """
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern has 1..{MAX_PATTERN_CHARS} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise ValueError(f"{pattern!r} matches an empty plate")
    return compiled


@dataclass(frozen=True, slots=True)
class PlateMatch:
    """A read fitted to a format: the plate, its region, and how many characters were
    changed to fit (0: read as it is)."""

    plate: str
    region: str
    fixes: int


class PlateFormats:
    """The plate formats of the regions an operator expects: regular expressions over
    the plate's letters and digits (no spaces), matched in full.

    A read of letters and digits that fits no format as it is may still fit once up to
    two characters OCR often confuses are swapped (``0``/``O``, ``1``/``I``, ``8``/``B``,
    ``5``/``S``, ``2``/``Z``, ``6``/``G``): where a format says which positions hold letters
    and which digits, that repairs a misread character instead of losing the frame.
    """

    def __init__(self, formats: Mapping[str, Sequence[str]] = DEFAULT_FORMATS) -> None:
        self.formats = {region: tuple(patterns) for region, patterns in formats.items()}
        self._compiled = [
            (region, compile_pattern(p)) for region, patterns in formats.items() for p in patterns
        ]
        if not self._compiled:
            raise ValueError("at least one plate format is needed")

    def fit(self, text: str, *, repair: bool = True) -> PlateMatch | None:
        """``text`` (cleaned) as a plate of one of the formats, or ``None``."""
        if not 1 <= len(text) <= MAX_TEXT_CHARS:
            return None
        exact = self._region(text)
        if exact is not None:
            return PlateMatch(text, exact, 0)
        if not repair or not (_has_letter(text) and _has_digit(text)):
            return None  # words and bare numbers are not repaired into plates
        positions = [i for i, c in enumerate(text) if c in _LOOKALIKES]
        for count in range(1, min(_MAX_FIXES, len(positions)) + 1):
            for chosen in itertools.combinations(positions, count):
                choices = [_LOOKALIKES[text[i]] for i in chosen]
                for replacement in itertools.product(*choices):
                    variant = list(text)
                    for i, c in zip(chosen, replacement, strict=True):
                        variant[i] = c
                    candidate = "".join(variant)
                    region = self._region(candidate)
                    if region is not None:
                        return PlateMatch(candidate, region, count)
        return None

    def _region(self, text: str) -> str | None:
        return next((region for region, p in self._compiled if p.fullmatch(text)), None)


def _has_letter(text: str) -> bool:
    return any(c.isalpha() for c in text)


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)
