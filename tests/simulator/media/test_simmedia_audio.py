"""The sound track decodes, loops, and has its events where the ground truth says."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

from vms_core.simulator.media import (
    AudioProfile,
    EncodedLoop,
    LoopSpec,
    SceneConfig,
    SoundScene,
    VideoProfile,
    audio_track_info,
    encode_loop,
)

from .conftest import LOOP_SECONDS

Audio = npt.NDArray[np.float64]


def decode_audio(codec: str, units: list[bytes], rate: int, extradata: bytes | None) -> Audio:
    decoder = av.CodecContext.create(codec, "r")
    decoder.sample_rate = rate
    decoder.layout = "mono"
    if extradata is not None:
        decoder.extradata = extradata
    chunks = []
    for data in units:
        for frame in decoder.decode(av.Packet(data)):
            samples = frame.to_ndarray().astype(np.float64).reshape(-1)
            if frame.format.name.startswith("s16"):  # G.711 decodes to 16-bit integers
                samples /= 32768.0
            chunks.append(samples)
    return np.concatenate(chunks)


def aac_second_pass(loop: EncodedLoop) -> tuple[Audio, int]:
    """The run decoded as the player plays it (twice in a row); the second pass is what
    a listener hears once the decoder is warm."""
    assert loop.audio is not None and loop.audio_config is not None
    units = [u.data for u in loop.audio.units]
    rate = loop.audio.clock_rate
    audio = decode_audio("aac", units + units, rate, bytes.fromhex(loop.audio_config))
    period = loop.audio.period_ticks
    assert len(audio) == 2 * period
    return audio[period:], rate


def crest_factor(x: Audio) -> float:
    return float(np.abs(x).max() / np.sqrt(np.mean(x**2)))


def spectral_centroid(x: Audio, rate: int) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float((power * freqs).sum() / power.sum())


def window(audio: Audio, rate: int, start_s: float, end_s: float) -> Audio:
    return audio[round(start_s * rate) : round(end_s * rate)]


def test_aac_run_is_whole_frames_covering_whole_loops(h264_loop: EncodedLoop) -> None:
    audio = h264_loop.audio
    assert audio is not None
    # 4 s at 16 kHz is 62.5 AAC frames, so the run spans two loops: 125 frames.
    assert audio.period_ticks == 2 * LOOP_SECONDS * 16000
    assert len(audio.units) == audio.period_ticks // 1024
    assert [u.pts for u in audio.units] == [i * 1024 for i in range(len(audio.units))]
    info = audio_track_info(h264_loop)
    assert info is not None
    assert (info.codec, info.clock_rate, info.fmtp["config"]) == ("MPEG4-GENERIC", 16000, "1408")
    assert info.fmtp["mode"] == "AAC-hbr" and info.fmtp["sizelength"] == "13"


def test_gunshot_peaks_where_the_event_says_in_every_loop(h264_loop: EncodedLoop) -> None:
    audio, rate = aac_second_pass(h264_loop)
    (shot,) = [e for e in h264_loop.events if e.kind == "gunshot"]
    for loop_index in range(2):
        one_loop = audio[loop_index * LOOP_SECONDS * rate : (loop_index + 1) * LOOP_SECONDS * rate]
        peak_s = int(np.argmax(np.abs(one_loop))) / rate
        assert abs(peak_s - shot.start_s) < 0.02
        assert np.abs(one_loop).max() > 0.5


def test_gunshot_speech_and_door_slam_sound_different(h264_loop: EncodedLoop) -> None:
    audio, rate = aac_second_pass(h264_loop)
    events = {e.kind: e for e in h264_loop.events}
    shot = window(audio, rate, events["gunshot"].start_s, events["gunshot"].start_s + 0.4)
    door = window(audio, rate, events["door_slam"].start_s, events["door_slam"].start_s + 0.4)
    speech = window(audio, rate, events["speech"].start_s, events["speech"].end_s)

    # Impulsive: the gunshot's crest factor is far above speech's.
    assert crest_factor(shot) > 2 * crest_factor(speech)
    # Spectra: the slam is a low thump, speech sits in the formant range, the shot is broadband.
    door_centroid = spectral_centroid(door, rate)
    speech_centroid = spectral_centroid(speech, rate)
    shot_centroid = spectral_centroid(shot, rate)
    assert door_centroid < 250 < speech_centroid < shot_centroid

    # The slam decays more slowly than the shot: energy 100-200 ms after onset vs 0-100 ms.
    def decay_ratio(start_s: float) -> float:
        early = window(audio, rate, start_s, start_s + 0.1)
        late = window(audio, rate, start_s + 0.1, start_s + 0.2)
        return float(np.mean(late**2) / np.mean(early**2))

    assert decay_ratio(events["door_slam"].start_s) > 5 * decay_ratio(events["gunshot"].start_s)
    # Speech is voiced: a strong autocorrelation peak at a pitch period of 5-10 ms.
    centred = speech - speech.mean()
    correlation = np.correlate(centred[:4000], centred[:4000], "full")[3999:]
    pitch = correlation[round(0.005 * rate) : round(0.010 * rate)].max() / correlation[0]
    assert pitch > 0.5


def test_background_noise_is_low_but_present(h264_loop: EncodedLoop) -> None:
    audio, rate = aac_second_pass(h264_loop)
    quiet = window(audio, rate, 0.2, 0.9)  # before the gunshot
    rms = float(np.sqrt(np.mean(quiet**2)))
    assert 0.002 < rms < 0.05


def test_pcmu_loop_is_20ms_packets_with_the_gunshot_in_place() -> None:
    loop = encode_loop(
        LoopSpec(
            SceneConfig(loop_seconds=2, gunshot=SoundScene(at_s=(0.5,))),
            VideoProfile(128, 72, 5, 50_000),
            AudioProfile("PCMU", 8000),
        )
    )
    assert loop.audio is not None
    assert loop.audio.period_ticks == 16000
    assert [len(u.data) for u in loop.audio.units] == [160] * 100
    info = audio_track_info(loop)
    assert info is not None and (info.codec, info.clock_rate) == ("PCMU", 8000)
    audio = decode_audio("pcm_mulaw", [u.data for u in loop.audio.units], 8000, None)
    assert len(audio) == 16000
    assert abs(int(np.argmax(np.abs(audio))) / 8000 - 0.5) < 0.01
