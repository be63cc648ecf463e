"""The burned-in clock: a large ":SS.ff" label and a machine-readable stripe.

Only the seconds of the minute (and the frame within the second) are burned in, because the
media is pre-encoded once and replayed: the loop is played aligned to the wall clock (loop
frame ``i`` is sent when ``(time.time() % loop_seconds) * fps == i``), so loop second ``s``
always goes out during a wall-clock second with the same value modulo ``loop_seconds``. With
the default 60 s loop (or any multiple of 60) the burned-in seconds are the true wall-clock
seconds of the minute; hours and minutes cannot be known when the loop is encoded.

The stripe is a row of square blocks in the picture's top-left corner, white = 1:
``1 0 | 6 bits seconds | 6 bits frame | parity | 1`` (16 blocks, most significant bit first).
Blocks are at least 8 px and grow with the picture height, so they survive H.264 at 320x180.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

STRIPE_BLOCKS = 16
_VALUE_BITS = 6


def stripe_block_size(height: int) -> int:
    """Side of one stripe block in pixels for a picture ``height`` pixels tall."""
    return max(8, height // 22 // 8 * 8)


def clock_label(loop_frame: int, fps: int) -> tuple[int, int]:
    """(seconds of the minute, frame within the second) burned into ``loop_frame``."""
    return (loop_frame // fps) % 60, loop_frame % fps


def expected_clock(wall_time: float, fps: int, loop_seconds: int) -> tuple[int, int]:
    """What the burned-in clock of a frame sent at ``wall_time`` shows."""
    loop_frame = int((wall_time % loop_seconds) * fps + 1e-6)
    return clock_label(loop_frame, fps)


def _stripe_bits(seconds: int, frame: int) -> list[int]:
    value_bits = [(seconds >> b) & 1 for b in range(_VALUE_BITS - 1, -1, -1)]
    value_bits += [(frame >> b) & 1 for b in range(_VALUE_BITS - 1, -1, -1)]
    return [1, 0, *value_bits, sum(value_bits) % 2, 1]


def draw_clock_stripe(frame_rgb: npt.NDArray[np.uint8], seconds: int, frame: int) -> None:
    """Paint the stripe for (seconds, frame) into ``frame_rgb`` (H x W x 3) in place."""
    if not (0 <= seconds < 60 and 0 <= frame < 64):
        raise ValueError("seconds must be 0-59 and frame 0-63")
    block = stripe_block_size(frame_rgb.shape[0])
    for index, bit in enumerate(_stripe_bits(seconds, frame)):
        frame_rgb[0:block, index * block : (index + 1) * block] = 255 if bit else 0


def read_clock_stripe(frame_rgb: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """Decode (seconds of the minute, frame) from a decoded RGB picture (H x W x 3, or a
    H x W grey picture). ``None`` when no valid stripe is there."""
    grey = frame_rgb.mean(axis=2) if frame_rgb.ndim == 3 else frame_rgb.astype(np.float64)
    block = stripe_block_size(grey.shape[0])
    if grey.shape[1] < STRIPE_BLOCKS * block:
        return None
    margin = block // 4  # sample block centres: edges are smeared by the codec
    bits: list[int] = []
    for index in range(STRIPE_BLOCKS):
        x0 = index * block
        cell = grey[margin : block - margin, x0 + margin : x0 + block - margin]
        level = float(cell.mean())
        if 70 < level < 185:  # neither black nor white: not our stripe
            return None
        bits.append(1 if level >= 128 else 0)
    value_bits = bits[2:14]
    if bits[:2] != [1, 0] or bits[15] != 1 or sum(value_bits) % 2 != bits[14]:
        return None
    seconds = int("".join(map(str, value_bits[:6])), 2)
    frame = int("".join(map(str, value_bits[6:])), 2)
    if seconds >= 60:
        return None
    return seconds, frame
