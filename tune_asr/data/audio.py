"""Raw NSML audio: headerless PCM, signed 16-bit little-endian, 16 kHz, mono."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2


class AudioError(ValueError):
    """A file that cannot be used as NSML audio; the message says why."""


def pcm_seconds(size: int) -> float:
    """Duration of a PCM file of ``size`` bytes, known without decoding it; raises for sizes PCM cannot have."""
    if size == 0:
        raise AudioError("empty file")
    if size % BYTES_PER_SAMPLE:
        raise AudioError(f"odd byte length ({size} bytes): not 16-bit PCM")
    return size / BYTES_PER_SAMPLE / SAMPLE_RATE


def read_pcm(path: Path) -> np.ndarray:
    """Decode a file once into int16 samples (kept as int16 in memory: a quarter of float64)."""
    pcm_seconds(path.stat().st_size)  # the size check, before any decoding
    return np.fromfile(path, dtype="<i2")


def duration_seconds(samples: np.ndarray) -> float:
    return len(samples) / SAMPLE_RATE
