import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tune_asr import train as train_cli
from tune_asr.checkpoint import load_checkpoint
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.schedules import lr_scale
from tune_asr.training import TrainingDiverged, train

TINY = TrainConfig(n_mels=40, conv_channels=4, rnn_hidden=16, rnn_layers=1, batch_size=4, epochs=2,
                   lr=3e-3, schedule="warmup_cosine", dropout=0.2)


def test_resumed_run_matches_an_uninterrupted_one_exactly(nsml_dir: Path, tmp_path: Path) -> None:
    corpus = load_corpus(nsml_dir, TINY)
    straight = train(TINY, corpus, progress=False)

    saved: list[Path] = []
    one_epoch = train(TINY, corpus, progress=False,
                      on_epoch=lambda record, save: saved.append(save(tmp_path / f"e{record.epoch}")) if record.epoch == 1 else None)
    assert len(one_epoch) == 2 and saved
    resumed = train(TINY, corpus, progress=False, resume_from=saved[0])
    assert [r.epoch for r in resumed] == [1, 2]
    assert resumed[1].train_loss == straight[1].train_loss
    assert resumed[1].val_cer == straight[1].val_cer


def test_checkpoint_holds_model_optimizer_scheduler_vocab_and_config(nsml_dir: Path, tmp_path: Path) -> None:
    corpus = load_corpus(nsml_dir, TINY)
    train(TINY, corpus, progress=False, on_epoch=lambda record, save: save(tmp_path))
    state = load_checkpoint(tmp_path)
    assert {"model", "optimizer", "scheduler", "vocab", "config", "history", "epoch"} <= set(state)
    assert state["epoch"] == 2 and TrainConfig.from_dict(state["config"]) == TINY
    assert state["vocab"]["symbols"] == corpus.vocab.symbols
    names = {name for name, _, _ in state["val_per_utterance"]}
    assert names == {u.name for u in corpus.val}


def test_absurd_learning_rate_raises_training_diverged(nsml_dir: Path) -> None:
    config = replace(TINY, lr=1e12, schedule="constant", grad_clip=1e30, epochs=1)
    with pytest.raises(TrainingDiverged):
        train(config, load_corpus(nsml_dir, config), progress=False)


def test_progress_bar_shows_every_steps_loss_on_a_cpu(nsml_dir: Path, capsys: pytest.CaptureFixture) -> None:
    config = replace(TINY, epochs=1)
    train(config, load_corpus(nsml_dir, config), progress=True, device=torch.device("cpu"))
    shown = [int(step) for step in re.findall(r"loss \d+\.\d{3} @step (\d+)", capsys.readouterr().err)]
    assert len(set(shown)) >= 4 and sorted(set(shown)) == list(range(1, max(shown) + 1))


@pytest.mark.parametrize("schedule", ["constant", "warmup_cosine", "tri_stage", "one_cycle"])
def test_schedules_peak_at_one_and_never_go_negative(schedule: str) -> None:
    scale = lr_scale(replace(TrainConfig(), schedule=schedule, warmup_fraction=0.2, hold_fraction=0.3), 100)
    values = [scale(step) for step in range(100)]
    assert max(values) == pytest.approx(1.0, abs=0.01)
    assert min(values) >= 0.0
    if schedule != "constant":
        assert values[0] < 0.1 and values[-1] < 0.1


def test_config_overrides_coerce_and_reject_bad_keys() -> None:
    config = TrainConfig().with_overrides(["rnn_hidden=256", "lr=3e-4", "vocab_path=none"])
    assert config.rnn_hidden == 256 and config.lr == 3e-4 and config.vocab_path is None
    with pytest.raises(ValueError, match="unknown config key"):
        TrainConfig().with_overrides(["hidden=3"])
    with pytest.raises(ValueError, match="rnn_layers"):
        TrainConfig().with_overrides(["rnn_layers=1.5"])
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig().with_overrides(["schedule=linear"])


def test_train_cli_writes_metrics_and_checkpoints_and_resumes(nsml_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["--data", str(nsml_dir), "--out", str(out), "--no-progress", "--set", "n_mels=40", "--set", "conv_channels=4",
            "--set", "rnn_hidden=16", "--set", "rnn_layers=1", "--set", "batch_size=4", "--set", "epochs=1"]
    assert train_cli.main(args) == 0
    assert train_cli.main([*args[:-1], "epochs=2", "--resume"]) == 0
    epochs = json.loads((out / "metrics.json").read_text())["epochs"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert {"train_loss", "val_cer", "val_loss", "lr", "seconds", "audio_seconds_per_second"} <= set(epochs[0])
    assert (out / "best" / "checkpoint.pt").exists() and (out / "last" / "checkpoint.pt").exists()
    assert torch.load(out / "last" / "checkpoint.pt", weights_only=False)["epoch"] == 2


def test_without_a_gpu_the_cli_picks_a_cpu_sized_model_and_says_so(
    nsml_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_cli, "default_device", lambda: torch.device("cpu"))
    out = tmp_path / "out"
    assert train_cli.main(["--data", str(nsml_dir), "--out", str(out), "--no-progress", "--set", "epochs=1",
                           "--set", "rnn_hidden=16", "--set", "conv_channels=4"]) == 0
    assert capsys.readouterr().out.startswith("No GPU: a CPU-sized model (")
    config = json.loads((out / "config.json").read_text())
    assert config["rnn_hidden"] == 16 and config["rnn_layers"] == train_cli.CPU_DEFAULTS["rnn_layers"] < TrainConfig().rnn_layers
    assert train_cli.base_config(full_size=True) == TrainConfig()
    monkeypatch.setattr(train_cli, "default_device", lambda: torch.device("cuda"))
    assert train_cli.base_config(full_size=False) == TrainConfig()


def test_every_epoch_reports_the_packages_inference_cost_measured_once(nsml_dir: Path, tmp_path: Path) -> None:
    from tune_asr.export.recognizer import WEIGHTS_FILE, Recognizer

    corpus = load_corpus(nsml_dir, TINY)
    saved: list[Path] = []
    history = train(TINY, corpus, progress=False, on_epoch=lambda record, save: saved.append(save(tmp_path / "c")))
    first, second = history
    assert first.rtf > 0 and first.rtf_measure_s > 0 and second.rtf_measure_s == 0  # once per run
    assert (second.rtf, second.params, second.model_mb) == (first.rtf, first.params, first.model_mb)
    state = load_checkpoint(saved[-1])
    recognizer = Recognizer(TrainConfig.from_dict(state["config"]), corpus.vocab, state["model"], torch.device("cpu"))
    assert first.params == sum(p.numel() for p in recognizer.model.parameters())
    recognizer.save(tmp_path / "pkg")
    assert first.model_mb == pytest.approx((tmp_path / "pkg" / WEIGHTS_FILE).stat().st_size / 1e6, rel=0.01)
