"""Log-mel features and SpecAugment, computed batched on the training device.

The same module serves training and inference, so the feature window can never differ between
them (the seed baseline used ``povey`` in one and ``hamming`` in the other).
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.tensors import to_device


class LogMelFeatures(nn.Module):
    """int16 audio batch → per-utterance normalised log-mel frames ``(batch, frames, n_mels)``."""

    def __init__(self, n_mels: int, win_ms: float, hop_ms: float, sample_rate: int = SAMPLE_RATE):
        super().__init__()
        self.win = round(sample_rate * win_ms / 1000)
        self.hop = round(sample_rate * hop_ms / 1000)
        self.n_fft = 1 << (self.win - 1).bit_length()  # frames span n_fft samples (window zero-padded)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=self.n_fft, win_length=self.win, hop_length=self.hop,
            n_mels=n_mels, window_fn=torch.hamming_window, center=False, power=2.0,
        )

    @classmethod
    def from_config(cls, config: TrainConfig) -> "LogMelFeatures":
        """The features a run with ``config`` uses: training and inference build them here alike."""
        return cls(config.n_mels, config.win_ms, config.hop_ms)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Frames per utterance; an utterance shorter than one window still yields one frame."""
        return (sample_lengths.clamp(min=self.n_fft) - self.n_fft) // self.hop + 1

    @torch.autocast("cuda", enabled=False)
    def forward(self, audio: torch.Tensor, sample_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if audio.size(1) < self.n_fft:
            audio = nn.functional.pad(audio, (0, self.n_fft - audio.size(1)))
        waveform = audio.float() / 32768.0
        feats = torch.log(self.mel(waveform) + 1e-6).transpose(1, 2)
        lengths = self.frame_lengths(to_device(sample_lengths, feats.device))
        valid = (torch.arange(feats.size(1), device=feats.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        count = (lengths * feats.size(2)).clamp(min=1).to(feats.dtype)
        mean = (feats * valid).sum(dim=(1, 2)) / count
        centred = (feats - mean[:, None, None]) * valid
        std = torch.sqrt((centred**2).sum(dim=(1, 2)) / count)
        return centred / (std[:, None, None] + 1e-5), lengths


def spec_augment(
    feats: torch.Tensor,
    lengths: torch.Tensor,
    *,
    freq_mask_width: int,
    freq_mask_count: int,
    time_mask_fraction: float,
    time_mask_count: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Zero random frequency bands and time spans per utterance, all utterances at once.

    Time masks are at most ``time_mask_fraction`` of each utterance's own length (kospeech: T/20).
    Zero is the mean of normalised features, so a mask carries no information.
    """
    batch, frames, bins = feats.shape
    device = feats.device

    def uniform() -> torch.Tensor:
        return torch.rand(batch, device=device, generator=generator)

    masked = torch.zeros(batch, frames, bins, dtype=torch.bool, device=device)
    bin_index = torch.arange(bins, device=device)[None, :]
    for _ in range(freq_mask_count):
        width = (uniform() * (freq_mask_width + 1)).long()
        start = (uniform() * (bins - width + 1)).long()
        band = (bin_index >= start[:, None]) & (bin_index < (start + width)[:, None])
        masked |= band[:, None, :]
    frame_index = torch.arange(frames, device=device)[None, :]
    lengths = lengths.to(device)  # once: each host-to-device copy of a CPU tensor waits for the GPU queue
    widest = (lengths * time_mask_fraction).long()
    for _ in range(time_mask_count):
        width = (uniform() * (widest + 1)).long()
        start = (uniform() * (lengths - width + 1).clamp(min=1)).long()
        span = (frame_index >= start[:, None]) & (frame_index < (start + width)[:, None])
        masked |= span[:, :, None]
    return feats.masked_fill(masked, 0.0)
