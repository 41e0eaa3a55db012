"""Search-space files: every mistake stops with file, line and key; conditional keys follow their option."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest

from tune_asr.config import TrainConfig
from tune_asr.search_space import SearchSpace, SpaceError, load_space

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SpaceError) as caught:
        load_space(path)
    return str(caught.value)


def sample(space: SearchSpace, trials: int, seed: int = 0) -> list[dict]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    configs = []
    for _ in range(trials):
        trial = study.ask()
        configs.append(space(trial))
        study.tell(trial, 1.0)
    return configs


@pytest.mark.parametrize("path", sorted((REPO / "search_spaces").glob("*.yaml")), ids=lambda path: path.name)
def test_shipped_spaces_load_and_sample_valid_configs(path: Path) -> None:
    space = load_space(path)
    for values in sample(space, 20):
        TrainConfig.from_dict(values)


def test_unknown_key_names_file_line_key_and_a_suggestion(tmp_path: Path) -> None:
    message = error_of(tmp_path, "n_mels: 40\nrnn_hiden: 64\n")
    assert f"{tmp_path / 'space.yaml'}:2: rnn_hiden: unknown key" in message
    assert "did you mean rnn_hidden" in message


def test_unknown_key_under_a_choice_option_is_found_too(tmp_path: Path) -> None:
    message = error_of(tmp_path, "schedule:\n  choice:\n    tri_stage:\n      hold_fractoin: 0.3\n")
    assert ":4: hold_fractoin: unknown key" in message


def test_unknown_distribution_is_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, "lr: {normal: {low: 0.1, high: 0.2}}\n")
    assert ":1: lr: unknown distribution 'normal'" in message


def test_low_above_high_is_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, "n_mels: 40\nrnn_hidden: {int: {low: 96, high: 32}}\n")
    assert ":2: rnn_hidden: low > high" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_mels: forty\n", "n_mels: expected int, got 'forty'"),
        ("rnn_type: {choice: [gru, transformer]}\n", "rnn_type: expected one of 'gru', 'lstm', got 'transformer'"),
        ("dropout: {int: {low: 0, high: 1}}\n", "dropout: int range given, but dropout is float"),
        ("rnn_layers: {uniform: {low: 1, high: 3}}\n", "rnn_layers: uniform range given, but rnn_layers is int"),
        ("rnn_hidden: {int: {low: 32.5, high: 64}}\n", "rnn_hidden: low must be an integer"),
        ("lr: {loguniform: {low: 0, high: 0.1}}\n", "lr: loguniform needs low > 0"),
    ],
)
def test_wrong_type_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_duplicate_key_is_rejected(tmp_path: Path) -> None:
    assert "duplicate key 'lr'" in error_of(tmp_path, "lr: 0.001\nlr: 0.002\n")


def test_a_key_both_at_top_level_and_under_an_option_is_rejected(tmp_path: Path) -> None:
    text = "warmup_fraction: 0.1\nschedule:\n  choice:\n    tri_stage: {warmup_fraction: 0.2}\n"
    assert "warmup_fraction: is set in places that can be active together" in error_of(tmp_path, text)


def test_combination_that_trainconfig_rejects_is_caught_before_any_trial(tmp_path: Path) -> None:
    message = error_of(tmp_path, "n_mels: 40\nfreq_mask_width: {int: {low: 10, high: 45}}\n")
    assert "can produce an invalid config" in message and "freq_mask_width" in message


def test_conditional_keys_are_sampled_only_with_their_option(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, """
schedule:
  choice:
    constant: {}
    warmup_cosine: {warmup_fraction: {uniform: {low: 0.05, high: 0.1}}}
    tri_stage:
      warmup_fraction: {uniform: {low: 0.05, high: 0.1}}
      hold_fraction: {uniform: {low: 0.2, high: 0.3}}
lr: {loguniform: {low: 1.0e-4, high: 1.0e-3}}
"""))
    configs = sample(space, 30)
    expected = {
        "constant": {"schedule", "lr"},
        "warmup_cosine": {"schedule", "lr", "warmup_fraction"},
        "tri_stage": {"schedule", "lr", "warmup_fraction", "hold_fraction"},
    }
    assert {c["schedule"] for c in configs} == set(expected)
    for config in configs:
        assert set(config) == expected[config["schedule"]]
        assert 1e-4 <= config["lr"] <= 1e-3
        if "hold_fraction" in config:
            assert 0.2 <= config["hold_fraction"] <= 0.3


def test_fixed_values_come_back_unchanged_and_epochs_can_be_pinned(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, "n_mels: 40\nepochs: 4\nrnn_layers: {int: {low: 1, high: 2}}\n"))
    assert space.fixed_value("epochs") == 4
    assert space.fixed_value("batch_size") == TrainConfig().batch_size
    with pytest.raises(SpaceError, match="rnn_layers: must be a fixed value"):
        space.fixed_value("rnn_layers")
    config = sample(space.with_fixed(epochs=2), 1)[0]
    assert config["n_mels"] == 40 and config["epochs"] == 2


def test_space_survives_pickling_as_tune_stores_it(tmp_path: Path) -> None:
    space = load_space(REPO / "search_spaces" / "default.yaml")
    assert sample(pickle.loads(pickle.dumps(space)), 3, seed=1) == sample(space, 3, seed=1)


def test_exponents_without_a_dot_are_numbers_not_text(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, "lr: {loguniform: {low: 1e-4, high: 1e-3}}\n"))
    assert space.params["lr"].low == 1e-4


def test_space_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_bytes("lr: 0.001  # 학습률\n".encode("cp949"))
    with pytest.raises(SpaceError, match=r"space.yaml: not UTF-8 text"):
        load_space(path)
