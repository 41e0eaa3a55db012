"""Speech → text for an exported package: bundled weights, batched greedy decoding, no crash on bad files.

This file is copied into every package beside ``main.py`` and imports only the vendored core
(``tune_asr.features``, ``model``, ``decoding`` ...), so NSML runs exactly the feature and model code
that trained the weights. The bundle is three files: ``weights.pt`` (the model's state dict),
``config.json`` (the TrainConfig that built it) and ``vocab.csv`` (kospeech format).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE, read_audio_folder
from tune_asr.data.vocab import Vocabulary
from tune_asr.features import LogMelFeatures
from tune_asr.model import DeepSpeech2
from tune_asr.transcribe import transcribe

WEIGHTS_FILE, CONFIG_FILE, VOCAB_FILE = "weights.pt", "config.json", "vocab.csv"
NEAR_SILENT_PEAK = 33  # int16 peak below -60 dBFS: nothing to recognise (and nothing to normalise)


class Recognizer:
    """A DeepSpeech2, its log-mel front-end and vocabulary, on the GPU when there is one."""

    def __init__(self, config: TrainConfig, vocab: Vocabulary, weights: dict[str, torch.Tensor], device: torch.device | None = None):
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.config, self.vocab = config, vocab
        self.features = LogMelFeatures.from_config(config).to(self.device)
        self.model = DeepSpeech2(config, len(vocab))
        self.model.load_state_dict(weights)
        self.model.to(self.device).eval()

    @classmethod
    def from_folder(cls, folder: Path, device: torch.device | None = None) -> "Recognizer":
        config = TrainConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")))
        vocab = Vocabulary.read_csv(folder / VOCAB_FILE, config.unit)
        weights = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        return cls(config, vocab, weights, device)

    def save(self, folder: Path) -> None:
        """Write the bundle: all that a submit session needs, since NSML carries nothing else over."""
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS_FILE)
        (folder / CONFIG_FILE).write_text(self.config.to_json(), encoding="utf-8")
        self.vocab.write_csv(folder / VOCAB_FILE)

    def load(self, folder: Path) -> None:
        """Replace this recognizer's model with the bundle in ``folder`` (NSML's bound ``load``)."""
        loaded = Recognizer.from_folder(folder, self.device)
        self.config, self.vocab, self.features, self.model = loaded.config, loaded.vocab, loaded.features, loaded.model

    def transcribe(self, audio: Sequence[np.ndarray]) -> list[str]:
        """int16 arrays → texts, in the given order."""
        return transcribe(self.model, self.features, self.vocab, self.device, audio)

    def infer_folder(self, folder: Path) -> list[dict[str, str]]:
        """NSML's ``infer``: every file of ``folder`` as ``{'filename', 'text'}``, sorted by filename.

        An unreadable, too short or near-silent file gets ``''`` and a warning, never an exception.
        """
        readable, problems = read_audio_folder(folder)
        for name, reason in problems:
            warnings.warn(f"{name}: unreadable ({reason}); transcribed as ''", stacklevel=2)
        texts = {name: "" for name, _ in problems}
        audible = []
        for name, samples in readable:
            reason = self._inaudible(samples)
            if reason:
                warnings.warn(f"{name}: {reason}; transcribed as ''", stacklevel=2)
                texts[name] = ""
            else:
                audible.append((name, samples))
        texts.update(zip((name for name, _ in audible), self.transcribe([samples for _, samples in audible])))
        return [{"filename": name, "text": texts[name]} for name in sorted(texts)]

    def _inaudible(self, samples: np.ndarray) -> str:
        """Why a file holds nothing to recognise, or '' when it may hold speech."""
        seconds = len(samples) / SAMPLE_RATE
        if seconds < self.config.min_seconds:
            return f"too short ({seconds:.3f} s < min_seconds={self.config.min_seconds})"
        peak = int(np.abs(samples.astype(np.int32)).max())
        return f"near-silent (peak {peak} of 32768)" if peak < NEAR_SILENT_PEAK else ""
