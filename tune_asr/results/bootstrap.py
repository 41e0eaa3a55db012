"""How sure a validation CER is: a percentile bootstrap over utterances.

Utterances, not characters, are resampled because errors cluster within an utterance (one bad
recording spoils many characters). Each resample's CER is its summed character edits over its
summed reference characters, the same ratio as the reported ``val_cer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CELLS_PER_CHUNK = 10_000_000  # resampled utterance indices held at once (~80 MB), whatever the set's size


@dataclass(frozen=True)
class Interval:
    cer: float
    low: float
    high: float


def cer_interval(per_utterance: Sequence[tuple[str, int, int]], confidence: float = 0.95,
                 resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """CER of ``per_utterance`` ((name, character edits, reference characters) per utterance) and its
    ``confidence`` interval; seeded, so the same checkpoint always gets the same interval."""
    if not per_utterance:
        raise ValueError("no utterances to bootstrap")
    edits = np.array([e for _, e, _ in per_utterance], dtype=np.float64)
    chars = np.array([n for _, _, n in per_utterance], dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(edits)
    chunk = max(1, CELLS_PER_CHUNK // n)
    samples = []
    for start in range(0, resamples, chunk):
        picks = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        samples.append(edits[picks].sum(axis=1) / np.maximum(chars[picks].sum(axis=1), 1.0))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(np.concatenate(samples), [tail, 100 - tail])
    return Interval(float(edits.sum() / max(chars.sum(), 1.0)), float(low), float(high))
