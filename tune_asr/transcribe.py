"""Speech → text with a trained model: the one inference path, shared by the exported package's
recognizer and by a trial measuring what that package will cost (:mod:`tune_asr.inference_cost`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tune_asr.data.batching import length_batches, pad_audio
from tune_asr.data.vocab import Vocabulary
from tune_asr.decoding import greedy_decode
from tune_asr.features import LogMelFeatures
from tune_asr.model import DeepSpeech2
from tune_asr.tensors import to_device

BATCH_SIZE = 64  # utterances per forward pass, grouped by length so that padding stays small


@torch.inference_mode()
def transcribe(model: DeepSpeech2, features: LogMelFeatures, vocab: Vocabulary, device: torch.device,
               audio: Sequence[np.ndarray]) -> list[str]:
    """int16 arrays → texts by greedy decoding, in the given order; fp32, eval mode, batches of similar lengths."""
    model.eval()
    texts = [""] * len(audio)
    for batch in length_batches([len(a) for a in audio], BATCH_SIZE, seed=0, epoch=0, shuffle=False):
        samples, sample_lengths = pad_audio([audio[i] for i in batch])
        feats, _ = features(to_device(samples, device), sample_lengths)
        log_probs, out_lengths = model(feats, features.frame_lengths(sample_lengths))
        for i, text in zip(batch, greedy_decode(log_probs, out_lengths, vocab)):
            texts[i] = text
    return texts
