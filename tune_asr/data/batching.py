"""Length-bucketed batches: similar lengths together (little padding), batch order shuffled."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch


def length_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, rank: int = 0, world_size: int = 1, shuffle: bool = True
) -> list[list[int]]:
    """Indices grouped by length; every rank gets the same number of batches (DDP needs that).

    Shuffling jitters the sort order slightly and shuffles the batches, seeded by (seed, epoch), so a
    resumed run sees exactly the batches an uninterrupted one would. Under DDP the ranks' k-th
    batches are length neighbours: every step waits for the slowest rank, and the recurrence's time
    grows with the longest batch, so ranks given unrelated lengths would idle at every step.
    """
    rng = random.Random(seed * 100_003 + epoch)
    if shuffle:
        keys = [(length * (1 + 0.1 * rng.random()), i) for i, length in enumerate(lengths)]
    else:
        keys = [(length, i) for i, length in enumerate(lengths)]
    order = [i for _, i in sorted(keys)]
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if not shuffle:
        return batches[rank::world_size]
    if len(batches) < world_size:
        batches = (batches * world_size)[:world_size]
    batches = batches[: len(batches) - len(batches) % world_size]
    steps = [batches[start : start + world_size] for start in range(0, len(batches), world_size)]
    rng.shuffle(steps)
    return [step[rank] for step in steps]


def pad_audio(samples: Sequence[np.ndarray], multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack int16 arrays into a zero-padded int16 tensor and their lengths.

    The padded length is rounded up to ``multiple`` samples so that batches come in a few shapes:
    cuDNN's autotuner then tunes each shape once instead of at almost every step.
    """
    lengths = torch.tensor([len(s) for s in samples], dtype=torch.long)
    padded = padded_length(int(lengths.max()), multiple)
    batch = np.zeros((len(samples), padded), dtype=np.int16)
    for row, s in zip(batch, samples):
        row[: len(s)] = s
    return torch.from_numpy(batch), lengths


def padded_length(longest: int, multiple: int) -> int:
    """``longest`` rounded up to a whole number of ``multiple``: the padded length of its batch."""
    return -(-longest // multiple) * multiple
