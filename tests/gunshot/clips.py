"""Generated audio clips for measuring the gunshot detector.

Test code only: it reuses the simulator's sound generators (the plug-in itself must not
import ``vms_core``) and adds street traffic, varied levels and background noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vms_core.simulator.media import sound

RATE = 16000
CLIP_S = 3.0
EVENT_AT_S = 1.2
KINDS = ("gunshot", "door_slam", "speech", "traffic")
LEVELS = (0.1, 0.3, 1.0)  # scale of the sound: far, mid, near
NOISE = (0.003, 0.01, 0.03)  # background RMS: quiet night .. busy street

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Clip:
    kind: str
    level: float
    noise: float
    seed: int
    samples: Samples

    @property
    def label(self) -> str:
        return f"{self.kind} level={self.level} noise={self.noise} seed={self.seed}"


def street_noise(length: int, level: float, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Low-passed street hum (like the simulator's background) at RMS ``level``."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / RATE)
    spectrum /= np.sqrt(1 + (freqs / 400.0) ** 2)
    noise = np.fft.irfft(spectrum, length)
    return noise * (level / (float(np.sqrt(np.mean(noise**2))) or 1.0))


def traffic(length: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A vehicle passing: engine rumble and tyre noise swelling and fading over ~1.5 s,
    with a short horn toot: the everyday loud sounds of a street that are not shots."""
    t = np.arange(length) / RATE
    swell = np.exp(-(((t - 0.8) / 0.45) ** 2))
    tyres = street_noise(length, 1.0, rng) * 0.25
    engine = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / k for k, f in enumerate((45, 90, 135), 1)
    )
    horn_env = ((t > 0.5) & (t < 0.8)) * np.minimum(1.0, (t - 0.5) / 0.02)
    horn = 0.2 * np.sign(np.sin(2 * np.pi * 420 * t)) * horn_env
    clip = (tyres + 0.3 * engine) * swell + horn
    return clip / (np.abs(clip).max() or 1.0) * 0.6


def sound_of(kind: str, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    if kind == "gunshot":
        return sound.gunshot(round(0.5 * RATE), RATE, rng).astype(np.float64)
    if kind == "door_slam":
        return sound.door_slam(round(0.8 * RATE), RATE, rng).astype(np.float64)
    if kind == "speech":
        return sound.speech(round(1.5 * RATE), RATE, rng).astype(np.float64)
    return traffic(round(1.6 * RATE), rng)


def make_clip(kind: str, level: float, noise: float, seed: int) -> Clip:
    """``CLIP_S`` seconds of street noise with one ``kind`` sound at ``EVENT_AT_S``."""
    rng = np.random.default_rng(seed)
    total = round(CLIP_S * RATE)
    track = street_noise(total, noise, rng)
    event = sound_of(kind, rng) * level
    start = round(EVENT_AT_S * RATE)
    end = min(total, start + len(event))
    track[start:end] += event[: end - start]
    return Clip(kind, level, noise, seed, np.clip(track, -1, 1).astype(np.float32))


def clip_set(seeds: int = 2) -> Iterator[Clip]:
    """Every kind x level x noise, ``seeds`` variants each."""
    for kind in KINDS:
        for level in LEVELS:
            for noise in NOISE:
                for seed in range(seeds):
                    yield make_clip(kind, level, noise, seed)
