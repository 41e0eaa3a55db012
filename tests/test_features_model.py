from dataclasses import replace

import torch

from tune_asr.config import TrainConfig
from tune_asr.features import LogMelFeatures, spec_augment
from tune_asr.model import DeepSpeech2, conv_output_lengths


def test_log_mel_shapes_lengths_and_normalisation() -> None:
    features = LogMelFeatures(n_mels=40, win_ms=20, hop_ms=10)
    audio = (torch.randn(2, 16000) * 3000).to(torch.int16)
    lengths = torch.tensor([16000, 8000])
    feats, frames = features(audio, lengths)
    assert feats.shape == (2, 97, 40)
    assert frames.tolist() == [97, 47]
    assert torch.all(feats[1, 47:] == 0)  # padding stays zero
    valid = feats[1, :47]
    assert abs(valid.mean().item()) < 1e-4 and abs(valid.std().item() - 1) < 0.05


def test_silent_and_very_short_audio_give_finite_features() -> None:
    features = LogMelFeatures(n_mels=40, win_ms=20, hop_ms=10)
    feats, frames = features(torch.zeros(1, 100, dtype=torch.int16), torch.tensor([100]))
    assert frames.tolist() == [1] and torch.isfinite(feats).all()


def test_spec_augment_masks_within_limits_and_is_seeded() -> None:
    feats = torch.ones(4, 200, 40)
    lengths = torch.tensor([200, 150, 100, 50])
    kwargs = dict(freq_mask_width=10, freq_mask_count=2, time_mask_fraction=0.05, time_mask_count=2)
    masked = spec_augment(feats, lengths, generator=torch.Generator().manual_seed(0), **kwargs)
    again = spec_augment(feats, lengths, generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(masked, again)
    zero_bins = (masked == 0).all(dim=1).sum(dim=1)
    assert torch.all(zero_bins <= 20) and zero_bins.sum() > 0
    zero_frames = (masked == 0).all(dim=2).sum(dim=1)
    assert torch.all(zero_frames <= 2 * (lengths * 0.05).long())


def test_kospeech_default_parameter_count() -> None:
    model = DeepSpeech2(TrainConfig(), vocab_size=2001)  # 80 mels, 3 × BiGRU 1024, 32 channels
    assert sum(p.numel() for p in model.parameters()) == 52_371_936


def test_model_output_shape_and_lengths() -> None:
    config = replace(TrainConfig(), n_mels=40, rnn_hidden=16, rnn_layers=2, conv_channels=4, rnn_type="lstm")
    model = DeepSpeech2(config, vocab_size=11).eval()
    frames = torch.tensor([50, 31])
    log_probs, out_lengths = model(torch.randn(2, 50, 40), frames)
    assert log_probs.shape == (2, 25, 11)
    assert out_lengths.tolist() == conv_output_lengths(frames).tolist() == [25, 16]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 25), atol=1e-5)


def test_zero_padding_does_not_change_an_utterances_output() -> None:
    """LogMelFeatures zeroes padded frames; the model must then ignore them exactly."""
    config = replace(TrainConfig(), n_mels=40, rnn_hidden=16, rnn_layers=1, conv_channels=4)
    model = DeepSpeech2(config, vocab_size=11).eval()
    feats = torch.randn(1, 30, 40)
    alone, _ = model(feats, torch.tensor([30]))
    padded, _ = model(torch.cat([feats, torch.zeros(1, 20, 40)], dim=1), torch.tensor([30]))
    assert torch.allclose(alone, padded[:, :15], atol=1e-5)


def test_dropout_really_applies_in_training_mode() -> None:
    config = replace(TrainConfig(), n_mels=40, rnn_hidden=16, rnn_layers=2, conv_channels=4, dropout=0.5)
    model = DeepSpeech2(config, vocab_size=11).train()
    feats, frames = torch.randn(2, 30, 40), torch.tensor([30, 30])
    first, _ = model(feats, frames)
    second, _ = model(feats, frames)
    assert not torch.allclose(first, second)


def test_features_from_config_follow_its_window_hop_and_mels() -> None:
    config = replace(TrainConfig(), n_mels=40, win_ms=25.0, hop_ms=12.5)
    features = LogMelFeatures.from_config(config)
    assert (features.win, features.hop, features.mel.n_mels) == (400, 200, 40)
