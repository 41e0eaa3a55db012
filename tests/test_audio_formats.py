"""Audio is recognised by its first bytes and read as 16 kHz mono int16, whatever its container and encoding.

Fixtures are written by independent writers (Python's ``wave`` for integer WAV, scipy for float WAV,
libsndfile for FLAC), so the reader is checked against files it did not write itself.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tune_asr.data.audio import AudioError, probe, read_audio_folder, read_pcm

RATE = 16_000


def tone(seconds: float = 0.5, rate: int = RATE, hz: float = 440.0) -> np.ndarray:
    """A sine at half scale, as floats in [-1, 1]."""
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * hz * t)


def write_int_wav(path: Path, signal: np.ndarray, bits: int, rate: int = RATE, channels: int = 1) -> Path:
    """Integer PCM WAV through Python's own ``wave`` writer; ``signal`` is (frames,) or (frames, channels)."""
    frames = np.repeat(signal[:, None], channels, axis=1) if signal.ndim == 1 else signal
    scaled = np.rint(frames * (2 ** (bits - 1) - 1)).astype(np.int64)
    if bits == 8:
        raw = (scaled + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(bits // 8, "little", signed=True) for v in scaled.ravel())
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(bits // 8)
        handle.setframerate(rate)
        handle.writeframes(raw)
    return path


def dominant_hz(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_headerless_pcm_is_read_as_it_is(tmp_path: Path) -> None:
    samples = (tone() * 32767).astype("<i2")
    samples.tofile(tmp_path / "clip.wav")  # the name says WAV, the content does not
    info = probe(tmp_path / "clip.wav")
    assert (info.format, info.frames, info.seconds) == ("pcm", len(samples), 0.5)
    assert np.array_equal(read_pcm(tmp_path / "clip.wav"), samples)


def test_16_bit_wav_header_is_not_read_as_audio(tmp_path: Path) -> None:
    signal = tone()
    path = write_int_wav(tmp_path / "idx_000001", signal, 16)  # no extension, as in NSML
    info = probe(path)
    assert (info.format, info.encoding, info.sample_rate, info.channels, info.frames) == ("wav", "s16", RATE, 1, len(signal))
    assert not info.converted
    assert np.array_equal(read_pcm(path), np.rint(signal * 32767).astype("<i2"))


@pytest.mark.parametrize(("bits", "tolerance"), [(8, 260), (24, 1), (32, 1)])
def test_integer_wav_of_any_width_becomes_the_same_int16(tmp_path: Path, bits: int, tolerance: int) -> None:
    signal = tone()
    samples = read_pcm(write_int_wav(tmp_path / f"w{bits}", signal, bits))
    assert samples.dtype == np.int16 and len(samples) == len(signal)
    assert np.abs(samples.astype(np.int32) - np.rint(signal * 32768)).max() <= tolerance


def test_float_wav(tmp_path: Path) -> None:
    from scipy.io import wavfile

    signal = tone().astype(np.float32)
    wavfile.write(tmp_path / "f32", RATE, signal)
    assert probe(tmp_path / "f32").encoding == "f32"
    assert np.abs(read_pcm(tmp_path / "f32").astype(np.int32) - np.rint(signal * 32768)).max() <= 1


def test_44k_stereo_is_resampled_and_mixed_down_keeping_pitch(tmp_path: Path) -> None:
    signal = tone(1.0, rate=44_100, hz=440.0)
    path = write_int_wav(tmp_path / "stereo", signal, 16, rate=44_100, channels=2)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.seconds, info.converted) == (44_100, 2, 1.0, True)
    samples = read_pcm(path)
    assert len(samples) == RATE and dominant_hz(samples) == pytest.approx(440.0, abs=2)
    assert 0.45 * 32768 < np.abs(samples).max() < 0.55 * 32768  # the two equal channels average to the same level


def test_truncated_wav_is_reported(tmp_path: Path) -> None:
    whole = write_int_wav(tmp_path / "whole", tone(), 16).read_bytes()
    (tmp_path / "cut").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AudioError, match="truncated WAV: header promises 16000 bytes"):
        probe(tmp_path / "cut")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("no-data", b"RIFF\x04\x00\x00\x00WAVE", "WAV without a fmt chunk"),
        ("alaw", b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x06\x00\x01\x00\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x02\x00\x00\x00ab",
         "unsupported WAV encoding (format tag 0x0006, 8 bits)"),
        ("odd-pcm", b"\x00\x01\x02", "odd byte length (3 bytes): not 16-bit PCM"),
    ],
)
def test_malformed_files_are_reported_by_name_in_a_test_folder(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(data)
    write_int_wav(tmp_path / "good", tone(), 16)
    readable, problems = read_audio_folder(tmp_path)
    assert [n for n, _ in readable] == ["good"]
    assert problems == [(name, reason)]


def test_flac_is_decoded_and_sized_from_its_streaminfo(tmp_path: Path) -> None:
    soundfile = pytest.importorskip("soundfile", reason="FLAC support needs the soundfile package")
    samples = (tone() * 32767).astype("<i2")
    soundfile.write(tmp_path / "a.flac", samples, RATE, subtype="PCM_16")
    info = probe(tmp_path / "a.flac")
    assert (info.format, info.frames, info.seconds) == ("flac", len(samples), 0.5)
    assert np.array_equal(read_pcm(tmp_path / "a.flac"), samples)
    stereo = np.repeat(tone(0.5, rate=44_100)[:, None], 2, axis=1)
    soundfile.write(tmp_path / "b", stereo, 44_100, format="FLAC", subtype="PCM_24")
    assert len(read_pcm(tmp_path / "b")) == RATE // 2


def test_broken_flac_is_reported(tmp_path: Path) -> None:
    soundfile = pytest.importorskip("soundfile", reason="FLAC support needs the soundfile package")
    soundfile.write(tmp_path / "whole", np.random.default_rng(0).standard_normal(RATE) * 0.3, RATE, format="FLAC")
    whole = (tmp_path / "whole").read_bytes()
    (tmp_path / "cut").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "garbage").write_bytes(b"fLaC" + b"\x00" * 64)
    with pytest.raises(AudioError, match="FLAC"):
        read_pcm(tmp_path / "cut")
    with pytest.raises(AudioError, match="unreadable FLAC"):
        probe(tmp_path / "garbage")
