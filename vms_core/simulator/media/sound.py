"""Synthesised sound track of a simulated camera: low background noise plus scene sounds.

Each sound has the acoustic signature detectors key on:
- gunshot: a sharp broadband onset (white noise, rise < 1 ms) with a fast decay (tau 12 ms)
  and a short low boom: very high crest factor, energy spread up to the Nyquist frequency;
- door slam: a low-frequency thump (60-110 Hz decaying tones, tau 110 ms) with a little
  low-passed rattle: energy below ~300 Hz, slower decay;
- speech: voiced syllables, a 100-140 Hz glottal source shaped by moving formants
  (F1/F2/F3 of a few vowels), 4 syllables a second with short pauses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vms_core.simulator.media.scene import SceneConfig

Samples = npt.NDArray[np.float32]

# (F1, F2, F3) in Hz of a few vowels, for the speech formants.
_VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (530, 1840, 2480),
    (300, 870, 2240),
    (660, 1720, 2410),
)


def synthesize_loop(scene: SceneConfig, sample_rate: int) -> Samples:
    """The whole loop's sound, mono float32 in [-1, 1], exactly ``loop_seconds`` long."""
    total = scene.loop_seconds * sample_rate
    rng = np.random.default_rng(11)
    track = _background(total, sample_rate, scene.noise_level, rng)
    for event in scene.events():
        start = round(event.start_s * sample_rate)
        length = round((event.end_s - event.start_s) * sample_rate)
        if event.kind == "gunshot":
            clip = gunshot(length, sample_rate, rng)
        elif event.kind == "door_slam":
            clip = door_slam(length, sample_rate, rng)
        elif event.kind == "speech":
            clip = speech(length, sample_rate, rng)
        else:
            continue
        end = min(total, start + len(clip))
        track[start:end] += clip[: end - start]
    return np.clip(track, -1.0, 1.0).astype(np.float32)


def _background(total: int, sample_rate: int, level: float, rng: np.random.Generator) -> Samples:
    # Brown-ish hum of a street: white noise with a gentle one-pole low-pass, made periodic
    # by filtering in the frequency domain so the loop wraps without a click.
    spectrum = np.fft.rfft(rng.standard_normal(total))
    freqs = np.fft.rfftfreq(total, 1 / sample_rate)
    spectrum /= np.sqrt(1 + (freqs / 400.0) ** 2)
    noise = np.fft.irfft(spectrum, total)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return (noise * (level / rms)).astype(np.float32)


def gunshot(length: int, sample_rate: int, rng: np.random.Generator) -> Samples:
    t = np.arange(length) / sample_rate
    crack = rng.standard_normal(length) * np.exp(-t / 0.012)
    boom = np.sin(2 * np.pi * 90 * t) * np.exp(-t / 0.06)
    clip: npt.NDArray[np.float64] = crack / np.abs(crack).max() * 0.85 + 0.25 * boom
    clip[: max(1, sample_rate // 4000)] *= np.linspace(0, 1, max(1, sample_rate // 4000))
    return clip.astype(np.float32)


def door_slam(length: int, sample_rate: int, rng: np.random.Generator) -> Samples:
    t = np.arange(length) / sample_rate
    thump = np.zeros(length)
    for freq, amp in ((62, 1.0), (87, 0.7), (110, 0.4)):
        thump += amp * np.sin(2 * np.pi * freq * t)
    thump *= np.exp(-t / 0.11)
    rattle = _lowpass(rng.standard_normal(length), sample_rate, 250.0) * np.exp(-t / 0.05)
    attack = np.minimum(1.0, t / 0.008)  # a door closes in a few ms, softer than a shot
    clip: npt.NDArray[np.float64] = (thump + 2.0 * rattle) * attack
    peak = float(np.abs(clip).max())
    return (clip * (0.6 / peak)).astype(np.float32)


def speech(length: int, sample_rate: int, rng: np.random.Generator) -> Samples:
    t = np.arange(length) / sample_rate
    f0 = 120 + 15 * np.sin(2 * np.pi * 0.7 * t) + 6 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    syllable_s = 0.25
    syllable = (t / syllable_s).astype(int)
    within = (t % syllable_s) / syllable_s
    # Each syllable is voiced for its first 80 %, then a short pause.
    envelope = np.where(within < 0.8, np.sin(np.pi * np.minimum(within / 0.8, 1.0)) ** 0.6, 0.0)
    vowel_of = rng.integers(0, len(_VOWELS), syllable.max() + 1)
    formants = np.array(_VOWELS, dtype=np.float64)[vowel_of[syllable]]  # (n, 3)
    voice = np.zeros(length)
    nyquist = sample_rate / 2
    for harmonic in range(1, 40):
        freq = harmonic * f0
        gain = np.zeros(length)
        for index, bandwidth in enumerate((90.0, 110.0, 160.0)):
            centre = formants[:, index]
            gain += (1.0 / (index + 1)) / (1 + ((freq - centre) / bandwidth) ** 2)
        gain *= freq < nyquist * 0.95
        voice += gain * np.sin(harmonic * phase) / harmonic**0.5
    clip = voice * envelope
    return (clip / (np.abs(clip).max() or 1.0) * 0.5).astype(np.float32)


def _lowpass(
    signal: npt.NDArray[np.float64], sample_rate: int, cutoff: float
) -> npt.NDArray[np.float64]:
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / sample_rate)
    spectrum[freqs > cutoff] = 0
    return np.fft.irfft(spectrum, len(signal))
