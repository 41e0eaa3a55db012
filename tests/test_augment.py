"""Waveform augmentation (tune_asr.augment): what each perturbation does to a batch, and where it runs."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tune_asr.augment import WaveformAugment, coloured_noise
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import AugmentDraws, Trainer, train

RATE = 16000
TINY = TrainConfig(n_mels=40, conv_channels=4, rnn_hidden=16, rnn_layers=1, batch_size=4, epochs=1, lr=3e-3,
                   schedule="constant")
AUGMENTED = replace(TINY, speed_perturb=0.1, noise_prob=0.5, noise_snr_db_min=5.0, noise_snr_db_max=20.0, gain_db=6.0)


def tones(frequency: float, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A zero-padded batch of sine tones (int16 scale) and their lengths."""
    batch = torch.zeros(len(lengths), max(lengths))
    for row, length in enumerate(lengths):
        batch[row, :length] = 8000 * torch.sin(2 * math.pi * frequency * torch.arange(length) / RATE)
    return batch, torch.tensor(lengths)


def peak_hz(signal: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(signal).abs()
    return float(spectrum.argmax()) * RATE / len(signal)


def test_speed_perturbation_changes_pitch_and_length_by_the_drawn_factor() -> None:
    audio, lengths = tones(1000.0, [16000, 12000, 8000, 16000, 12000, 8000])
    speed = WaveformAugment(speed_perturb=0.1)
    out, new_lengths = speed(audio, lengths, pad_to=512, host=torch.Generator().manual_seed(0), device=None)
    assert out.size(1) % 512 == 0 and out.size(1) >= int(new_lengths.max())
    factors = set()
    for row in range(len(lengths)):
        factor = round(float(lengths[row]) / float(new_lengths[row]), 2)
        assert factor in (0.9, 1.0, 1.1)
        factors.add(factor)
        assert peak_hz(out[row, : new_lengths[row]]) == pytest.approx(1000 * factor, rel=0.01)
        assert out[row, new_lengths[row] + 64 :].abs().max() < 50  # what follows the utterance stays (nearly) silent
    assert len(factors) > 1  # drawn per utterance
    again, _ = speed(audio, lengths, pad_to=512, host=torch.Generator().manual_seed(0), device=None)
    assert torch.equal(out, again)  # seeded


def test_noise_lands_at_the_drawn_snr_and_only_inside_each_utterance() -> None:
    audio, lengths = tones(440.0, [16000, 8000])
    augment = WaveformAugment(noise_prob=1.0, noise_snr_db_min=10.0, noise_snr_db_max=10.0)
    out, same_lengths = augment(audio, lengths, pad_to=1, host=torch.Generator(), device=torch.Generator().manual_seed(1))
    assert torch.equal(same_lengths, lengths)
    for row, length in enumerate(lengths.tolist()):
        noise = out[row, :length] - audio[row, :length]
        snr = 10 * math.log10(float(audio[row, :length].pow(2).mean() / noise.pow(2).mean()))
        assert snr == pytest.approx(10.0, abs=0.01)
        assert out[row, length:].abs().sum() == 0
    quiet = WaveformAugment(noise_prob=0.0, gain_db=0.0)
    assert not quiet.active


def test_coloured_noise_tilts_its_power_towards_low_frequencies() -> None:
    noise = coloured_noise(2, 32000, torch.tensor([0.0, 2.0]), torch.Generator().manual_seed(0), torch.device("cpu"))
    power = torch.fft.rfft(noise, dim=1).abs().pow(2)
    low_share = power[:, 1:800].sum(dim=1) / power.sum(dim=1)  # below 400 Hz
    assert low_share[0] < 0.1 and low_share[1] > 0.9  # white: 5% of the band; brown: nearly all of it
    assert torch.allclose(noise.std(dim=1), torch.ones(2), atol=1e-3)


def test_gain_stays_within_its_range_and_differs_per_utterance() -> None:
    audio, lengths = tones(440.0, [8000] * 8)
    out, _ = WaveformAugment(gain_db=6.0)(audio, lengths, pad_to=1, host=torch.Generator(),
                                           device=torch.Generator().manual_seed(2))
    gains_db = 20 * torch.log10(out.abs().amax(dim=1) / audio.abs().amax(dim=1))
    assert bool((gains_db.abs() <= 6.0 + 1e-4).all()) and gains_db.std() > 1.0


def test_config_refuses_unusable_amounts() -> None:
    for bad in ({"speed_perturb": 0.123}, {"speed_perturb": 0.5}, {"noise_prob": 1.5},
                {"noise_snr_db_min": 30.0, "noise_snr_db_max": 10.0}, {"gain_db": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad)) if len(bad) == 1 else "noise_snr_db_max"):
            TrainConfig.from_dict(bad)


def test_training_is_augmented_and_reproducible_while_validation_never_is(nsml_dir: Path) -> None:
    corpus = load_corpus(nsml_dir, TINY)
    plain, augmented = Trainer(TINY, corpus, torch.device("cpu")), Trainer(AUGMENTED, corpus, torch.device("cpu"))
    assert plain.evaluate().loss == augmented.evaluate().loss  # same seed, same weights: validation is untouched
    batch = plain.batches(corpus.train, epoch=1, shuffle=True)[0]
    with torch.no_grad():
        plain_loss = plain._loss(batch, AugmentDraws.for_epoch(1, torch.device("cpu")), plain.model)[0]
        augmented_loss = augmented._loss(batch, AugmentDraws.for_epoch(1, torch.device("cpu")), augmented.model)[0]
    assert plain_loss != augmented_loss  # the training step's input is perturbed
    first, second = train(AUGMENTED, corpus, progress=False), train(AUGMENTED, corpus, progress=False)
    assert first[0].train_loss == second[0].train_loss and math.isfinite(first[0].train_loss)
