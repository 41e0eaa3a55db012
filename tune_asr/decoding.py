"""Greedy CTC decoding: collapse repeats first, then drop blanks (the seed only dropped blanks)."""

from __future__ import annotations

import torch

from tune_asr.data.vocab import Vocabulary
from tune_asr.tensors import to_device


def greedy_ids(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    """Best path per utterance, on the device; one host copy for the whole batch."""
    best = log_probs.argmax(dim=-1)
    previous = torch.nn.functional.pad(best[:, :-1], (1, 0), value=blank)
    frames = torch.arange(best.size(1), device=best.device)[None, :]
    keep = (best != blank) & (best != previous) & (frames < to_device(lengths, best.device)[:, None])
    best, keep = best.cpu(), keep.cpu()
    return [row[mask].tolist() for row, mask in zip(best, keep)]


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, vocab: Vocabulary) -> list[str]:
    return [vocab.decode(ids) for ids in greedy_ids(log_probs, lengths, vocab.blank)]
