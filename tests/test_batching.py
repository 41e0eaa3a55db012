"""Length buckets: what every rank of a DDP run gets, and what padding does to shapes."""

from __future__ import annotations

import random

import numpy as np

from tune_asr.data.batching import length_batches, pad_audio


def lengths(count: int = 997, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(8_000, 160_000) for _ in range(count)]


def rank_batches(world_size: int, epoch: int = 1) -> list[list[list[int]]]:
    return [length_batches(lengths(), 16, seed=3, epoch=epoch, rank=r, world_size=world_size) for r in range(world_size)]


def test_ranks_share_the_batches_without_overlap() -> None:
    per_rank = rank_batches(4)
    assert len({len(batches) for batches in per_rank}) == 1
    seen = [i for batches in per_rank for batch in batches for i in batch]
    assert len(seen) == len(set(seen))
    assert len(seen) >= len(lengths()) - 4 * 16  # at most world_size - 1 batches (plus a short one) dropped


def test_ranks_step_through_neighbouring_lengths() -> None:
    """At each step the slowest rank sets the pace: the share of rank-time spent waiting must be small."""
    values = lengths()
    per_rank = rank_batches(4)
    busy = waiting = 0
    for step in zip(*per_rank):
        longest = [max(values[i] for i in batch) for batch in step]
        busy += sum(longest)
        waiting += sum(max(longest) - own for own in longest)
    assert waiting / (busy + waiting) < 0.05, waiting / (busy + waiting)


def test_batches_are_shuffled_per_epoch_and_reproducible() -> None:
    assert rank_batches(2, epoch=1) == rank_batches(2, epoch=1)
    assert rank_batches(2, epoch=1) != rank_batches(2, epoch=2)
    single = length_batches(lengths(), 16, seed=3, epoch=1)
    firsts = [lengths()[b[0]] for b in single]
    assert firsts != sorted(firsts)  # batch order shuffled, not longest-last


def test_padding_rounds_lengths_up_to_a_multiple() -> None:
    audio, sample_lengths = pad_audio([np.ones(100, np.int16), np.ones(7, np.int16)], multiple=64)
    assert audio.shape == (2, 128) and sample_lengths.tolist() == [100, 7]
    assert int(audio[1, 7:].abs().sum()) == 0
