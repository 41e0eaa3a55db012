"""Waveform augmentation of a training batch, on the batch's device: speed, coloured noise, gain.

Real test speech differs from the training speech in speakers, speed, rooms and microphones; how
much perturbation pays is a hyperparameter, so each amount is a :class:`~tune_asr.config.TrainConfig`
field a space can search. Only the training step applies it (never validation or inference), and
its draws come from the epoch's seeded generators, as SpecAugment's do, so a resumed run draws the
same perturbations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torchaudio
from torch import nn

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.data.batching import padded_length
from tune_asr.tensors import to_device  # host-to-device copies that do not wait for the GPU queue

MAX_NOISE_EXPONENT = 2.0  # noise colours: power ~ 1/f**b with b uniform in [0, 2] (white, pink, brown)


class WaveformAugment(nn.Module):
    """The waveform perturbations of one configuration (all off by default); move it to the training
    device with ``.to(device)``, as the features."""

    def __init__(self, speed_perturb: float = 0.0, noise_prob: float = 0.0, noise_snr_db_min: float = 10.0,
                 noise_snr_db_max: float = 30.0, gain_db: float = 0.0):
        super().__init__()
        self.noise_prob, self.noise_snr_db_min, self.noise_snr_db_max = noise_prob, noise_snr_db_min, noise_snr_db_max
        self.gain_db = gain_db
        # Kaldi's set {1-s, 1, 1+s}. Playing f times as fast = reading the audio as if recorded at f × the
        # rate, then resampling to the rate; whole rates (s has 2 decimals) keep the polyphase kernel small.
        # Each resampler builds its kernel once: torchaudio's functional resample builds it per call,
        # with a host-to-device copy that waits for the GPU queue.
        self.speeds = (1.0 - speed_perturb, 1.0, 1.0 + speed_perturb) if speed_perturb else ()
        self.resamplers = nn.ModuleList(
            [torchaudio.transforms.Resample(round(speed * SAMPLE_RATE), SAMPLE_RATE) for speed in self.speeds])

    @classmethod
    def from_config(cls, config: TrainConfig) -> "WaveformAugment":
        return cls(config.speed_perturb, config.noise_prob, config.noise_snr_db_min, config.noise_snr_db_max, config.gain_db)

    @property
    def active(self) -> bool:
        return bool(self.speeds or self.noise_prob or self.gain_db)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor, *, pad_to: int, host: torch.Generator,
                device: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Perturb a padded batch.

        ``audio`` is ``(batch, samples)`` on its device (int16 or float in the int16 scale);
        ``lengths`` are the host's sample counts. Returns float audio, zero past each new length,
        padded to a multiple of ``pad_to``, and the new host lengths (speed changes durations).
        ``host`` draws what decides shapes (no wait for the GPU); ``device`` draws the rest.
        """
        audio = audio.float()
        if self.speeds:
            audio, lengths = self._speed(audio, lengths, pad_to, host)
        batch = audio.size(0)
        valid = torch.arange(audio.size(1), device=audio.device)[None, :] < to_device(lengths, audio.device)[:, None]
        if self.noise_prob:
            audio = audio + self._noise(audio, valid, device)
        if self.gain_db:
            gain_db = (torch.rand(batch, device=audio.device, generator=device) * 2 - 1) * self.gain_db
            audio = audio * torch.pow(10.0, gain_db / 20)[:, None]
        return audio * valid, lengths

    def _speed(self, audio: torch.Tensor, lengths: torch.Tensor, pad_to: int,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Each utterance at a speed drawn from :attr:`speeds` (resampled, so its pitch moves too); one
        resampling per speed over the rows drawn for it, then the batch is padded again to its longest."""
        drawn = torch.randint(len(self.speeds), (audio.size(0),), generator=generator)
        parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []  # rows on host and device
        for choice, (speed, resampler) in enumerate(zip(self.speeds, self.resamplers)):
            rows = (drawn == choice).nonzero().flatten()
            if len(rows) == 0:
                continue
            device_rows = to_device(rows, audio.device)
            part, part_lengths = audio[device_rows, : int(lengths[rows].max())], lengths[rows]
            if speed != 1.0:
                source = resampler.orig_freq
                # Rows and length differ at every step: with cuDNN autotuning on (the model's few padded
                # shapes want it), each new shape of this convolution would be tuned again, every step.
                with _no_autotuning():
                    part = resampler(part)
                part_lengths = torch.div(part_lengths * SAMPLE_RATE + source - 1, source, rounding_mode="floor")
            parts.append((rows, device_rows, part, part_lengths))
        new_lengths = torch.empty_like(lengths)
        for rows, _, _, part_lengths in parts:
            new_lengths[rows] = part_lengths
        out = audio.new_zeros(audio.size(0), padded_length(int(new_lengths.max()), pad_to))
        for _, device_rows, part, _ in parts:
            width = min(part.size(1), out.size(1))
            out[device_rows, :width] = part[:, :width]
        return out, new_lengths

    def _noise(self, audio: torch.Tensor, valid: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Coloured noise at a drawn SNR for a ``noise_prob`` share of the utterances, zero for the rest."""
        batch, samples = audio.shape

        def rand() -> torch.Tensor:
            return torch.rand(batch, device=audio.device, generator=generator)

        chosen = rand() < self.noise_prob
        snr_db = self.noise_snr_db_min + rand() * (self.noise_snr_db_max - self.noise_snr_db_min)
        noise = coloured_noise(batch, samples, rand() * MAX_NOISE_EXPONENT, generator, audio.device) * valid
        count = valid.sum(dim=1).clamp(min=1)
        signal_power = (audio * valid).pow(2).sum(dim=1) / count
        noise_power = noise.pow(2).sum(dim=1) / count
        scale = torch.sqrt(signal_power / (noise_power.clamp(min=1e-12) * torch.pow(10.0, snr_db / 10)))
        return noise * (scale * chosen)[:, None]


@contextmanager
def _no_autotuning() -> Iterator[None]:
    """cuDNN's autotuning off for the block, every other cuDNN setting as it was."""
    tuning = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = tuning


def coloured_noise(batch: int, samples: int, exponents: torch.Tensor, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor:
    """Unit-variance noise rows whose power falls as ``1/f**exponent`` (0 white, 1 pink, 2 brown)."""
    white = torch.randn(batch, samples, device=device, generator=generator)
    spectrum = torch.fft.rfft(white, dim=1)
    frequency = torch.arange(spectrum.size(1), device=device).clamp(min=1).float()
    spectrum = spectrum * frequency[None, :].pow(-exponents[:, None] / 2)
    spectrum[:, 0] = 0  # no constant offset
    noise = torch.fft.irfft(spectrum, n=samples, dim=1)
    return noise / noise.std(dim=1, keepdim=True).clamp(min=1e-12)

