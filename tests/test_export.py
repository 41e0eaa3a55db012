"""export-best: a search's best checkpoint becomes an NSML folder that a local replay of
``nsml run`` + ``nsml submit`` runs with torch, torchaudio, numpy and Levenshtein alone."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import needs_espeak
from tests.tune_runs import run_tuner
from tune_asr import train as train_cli
from tune_asr.checkpoint import CHECKPOINT_FILE, config_from_checkpoint, load_checkpoint, vocab_from_state
from tune_asr.data.audio import read_pcm
from tune_asr.data.demo import make_demo
from tune_asr.data.labels import read_labels
from tune_asr.decoding import greedy_decode
from tune_asr.export import main as export_main
from tune_asr.export.best_trial import choose, pick
from tune_asr.export.package import ExportError
from tune_asr.export.recognizer import Recognizer
from tune_asr.export.replay import STANDIN, ReplayError, ReplayResult, _environment, replay
from tune_asr.export.rtf_limit import MARGIN_WHY, RtfLimit
from tune_asr.export.vendor import INFERENCE_REQUIREMENTS, VendorError, check_requirements, closure
from tune_asr.features import LogMelFeatures
from tune_asr.metrics import cer
from tune_asr.model import DeepSpeech2

# A barely trained tiny model: its outputs are still varied text, so equal CERs mean equal decoding.
TINY = ["n_mels=40", "conv_channels=4", "rnn_hidden=24", "rnn_layers=1", "batch_size=8", "epochs=1",
        "lr=1e-6", "schedule=constant", "unit=grapheme"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("export") / "demo", 24, seed=0, workers=2, progress=False)


@pytest.fixture(scope="module")
def checkpoint(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train")
    assert train_cli.main(["--data", str(demo), "--out", str(out), "--no-progress", *[f"--set={s}" for s in TINY]]) == 0
    return out / "best" / CHECKPOINT_FILE


def _trial(config: dict) -> None:
    """Reports like ``trainables`` do: val_cer, val_loss, rtf and a checkpoint_path per epoch. Like Ray
    Train keeping only the best checkpoints, a plan may delete an epoch's checkpoint afterwards."""
    from ray import tune

    plan = config["plan"]
    for epoch, val_cer in enumerate(plan["val_cer"], start=1):
        directory = Path(plan["root"]) / plan["name"] / f"checkpoint_{epoch}"
        directory.mkdir(parents=True)
        shutil.copyfile(plan["source"], directory / CHECKPOINT_FILE)
        tune.report({"epoch": epoch, "val_cer": val_cer, "val_loss": 1.0, "rtf": plan["rtf"], "checkpoint_path": str(directory)})
    for epoch in plan["deleted"]:
        shutil.rmtree(Path(plan["root"]) / plan["name"] / f"checkpoint_{epoch}")


@pytest.fixture(scope="module")
def experiment(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Ray Tune experiment folder laid out as ``tune_asr.search`` leaves one (a real search takes
    75-90 s on 2 cores): trial "steady" reaches 0.5; trial "pruned" reached 0.4 but that checkpoint
    is gone, so its best exportable epoch is its 0.6. "steady" infers at rtf 0.05, "pruned" at 0.01."""
    from ray import tune

    storage = tmp_path_factory.mktemp("results")
    root = storage / "tiny" / "train_runs"
    plans = [
        {"name": "steady", "val_cer": [0.9, 0.5], "deleted": [], "rtf": 0.05},
        {"name": "pruned", "val_cer": [0.4, 0.6], "deleted": [1], "rtf": 0.01},
    ]
    space = {"plan": tune.grid_search([{**p, "root": str(root), "source": str(checkpoint)} for p in plans])}
    return run_tuner(_trial, space, storage, "tiny")


def _trial_id(experiment: Path, name: str) -> str:
    from ray.tune import ExperimentAnalysis

    configs = ExperimentAnalysis(str(experiment)).get_all_configs()
    return next(trial_id for trial_id, config in configs.items() if config["plan"]["name"] == name)


def _project_transcripts(checkpoint: Path, data: Path) -> tuple[list[str], list[str]]:
    """References and hypotheses computed with the project's own code, one utterance at a time."""
    state = load_checkpoint(checkpoint)
    config, vocab = config_from_checkpoint(state), vocab_from_state(state["vocab"])
    model = DeepSpeech2(config, len(vocab))
    model.load_state_dict(state["model"])
    model.eval()
    features = LogMelFeatures.from_config(config)
    rows, _ = read_labels(data / "test" / "test_label")
    hypotheses = []
    with torch.no_grad():
        for row in rows:
            audio = torch.from_numpy(read_pcm(data / "test" / "test_data" / row.filename)).unsqueeze(0)
            lengths = torch.tensor([audio.size(1)])
            feats, _ = features(audio, lengths)
            log_probs, out_lengths = model(feats, features.frame_lengths(lengths))
            hypotheses += greedy_decode(log_probs, out_lengths, vocab)
    return [row.text for row in rows], hypotheses


@pytest.mark.slow
@needs_espeak
def test_best_exportable_checkpoint_has_the_lowest_val_cer_still_on_disk(experiment: Path) -> None:
    best = choose(experiment)
    assert (best.trial_id, best.epoch, best.val_cer) == (_trial_id(experiment, "steady"), 2, 0.5)
    assert best.checkpoint_dir == experiment / "train_runs" / "steady" / "checkpoint_2"


@pytest.mark.slow
@needs_espeak
def test_trial_flag_exports_that_trials_best_and_unknown_trials_are_named(experiment: Path) -> None:
    pruned = choose(experiment, _trial_id(experiment, "pruned"))
    assert (pruned.epoch, pruned.val_cer) == (2, 0.6)
    with pytest.raises(ExportError, match="no trial 'nope'; trials: "):
        choose(experiment, "nope")


@pytest.mark.slow
@needs_espeak
def test_max_rtf_exports_the_best_trial_within_it_and_says_why(experiment: Path) -> None:
    steady, pruned = _trial_id(experiment, "steady"), _trial_id(experiment, "pruned")
    fast = choose(experiment, limit=RtfLimit(0.02))
    assert (fast.trial_id, fast.val_cer, fast.rtf) == (pruned, 0.6, 0.01)
    assert fast.why == f"the CER-best trial, {steady}, rtf 0.05, is over the limit --max-rtf 0.02"
    assert choose(experiment, limit=RtfLimit(0.05)).trial_id == steady
    with pytest.raises(ExportError, match=f"the fastest, trial {steady}, has rtf 0.05$"):
        choose(experiment, steady, RtfLimit(0.02))  # with --trial, the limit checks that one trial


@pytest.mark.slow
@needs_espeak
def test_no_trial_within_the_limit_exits_2_with_one_line_and_no_out(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "package"
    for flags, limit in ((["--max-rtf", "0.005"], "the limit --max-rtf 0.005"),
                         (["--time-limit", "3600", "--test-hours", "25", "--rtf-margin", "0.1"],
                          "the limit rtf 0.004 = 3600 s per 25 h of test audio × margin 0.1")):
        assert export_main(["--experiment", str(experiment), "--out", str(out), *flags]) == 2
        err = capsys.readouterr().err
        assert err == f"error: no trial is within {limit}: the fastest, trial {_trial_id(experiment, 'pruned')}, has rtf 0.01\n"
        assert not out.exists()


@pytest.mark.slow
@needs_espeak
def test_time_limit_and_test_hours_work_out_the_limit_with_the_margin(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "package"
    # 3600 s for 25 h is rtf 0.04; the default margin 0.5 makes it 0.02: "steady" (0.05) is over, "pruned" (0.01) within
    assert export_main(["--experiment", str(experiment), "--out", str(out), "--time-limit", "3600", "--test-hours", "25"]) == 0
    printed = capsys.readouterr().out
    why = (f"rtf 0.01 (the CER-best trial, {_trial_id(experiment, 'steady')}, rtf 0.05, is over "
           "the limit rtf 0.02 = 3600 s per 25 h of test audio × margin 0.5)")
    assert f"trial {_trial_id(experiment, 'pruned')}, epoch 2: val_cer 0.6000" in printed and why in printed and MARGIN_WHY in printed
    assert why in (out / "README.md").read_text() and MARGIN_WHY in (out / "README.md").read_text()


def test_a_trial_without_an_rtf_cannot_be_shown_within_the_limit() -> None:
    bests = {"old": {"val_cer": 0.2, "rtf": float("nan")}, "slow": {"val_cer": 0.3, "rtf": 0.05},
             "fast": {"val_cer": 0.4, "rtf": 0.01}, "unscored": None}
    assert pick(bests, None) == ("old", "")
    assert pick(bests, RtfLimit(0.05)) == ("slow", "the CER-best trial, old, reported no rtf, so it cannot be shown to be within the limit --max-rtf 0.05")
    with pytest.raises(ExportError, match=r"^no trial is within the limit --max-rtf 0.001: the fastest, trial fast, has rtf 0.01; "
                                          r"1 reported no rtf \(a search from before it was measured\) and cannot be shown to be within it$"):
        pick(bests, RtfLimit(0.001))
    with pytest.raises(ExportError, match="none reported an rtf"):
        pick({"old": {"val_cer": 0.2}}, RtfLimit(1.0))


def test_replay_reports_its_rtf_and_warns_over_the_limit() -> None:
    result = ReplayResult([], 0.5, audio_seconds=100.0, infer_seconds=2.0, infer_cpu_seconds=2.0, reports=[])
    assert result.rtf == 0.02 and "(RTF 0.0200)" in result.summary()
    assert RtfLimit(0.05).replay_verdict(result.rtf) == "replay RTF 0.02, within --max-rtf 0.05"
    assert RtfLimit(0.01).replay_verdict(result.rtf) == "warning: replay RTF 0.02, over --max-rtf 0.01"
    # with a time budget the replay is held to the time limit itself: 0.02 * 50 h = 3600 s keeps 3600 s, 0.02 * 51 h does not
    assert RtfLimit.from_time_budget(3600, 50).replay_verdict(result.rtf) == (
        "replay RTF 0.02: 50 h of test audio in 3,600 s, within the time limit 3600 s")
    assert RtfLimit.from_time_budget(3600, 51).replay_verdict(result.rtf) == (
        "warning: replay RTF 0.02: 51 h of test audio in 3,672 s, over the time limit 3600 s")


@pytest.mark.parametrize("flags", [["--checkpoint", "c.pt", "--max-rtf", "0.1"], ["--experiment", "e", "--time-limit", "3600"],
                                   ["--experiment", "e", "--max-rtf", "0.1", "--time-limit", "3600", "--test-hours", "1"],
                                   ["--experiment", "e", "--max-rtf", "0"]])
def test_speed_flags_that_do_not_go_together_are_refused(flags: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        export_main([*flags, "--out", str(tmp_path / "out")])
    assert exited.value.code == 2 and not (tmp_path / "out").exists()


@pytest.mark.slow
@needs_espeak
def test_a_moved_experiment_still_finds_its_checkpoints(experiment: Path, tmp_path: Path) -> None:
    moved = tmp_path / "copied" / experiment.name
    shutil.copytree(experiment, moved)
    assert choose(moved).checkpoint_dir == moved / "train_runs" / "steady" / "checkpoint_2"


@pytest.mark.slow
@needs_espeak
def test_export_from_a_search_replays_like_nsml_with_the_projects_cer(
    experiment: Path, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the reference below runs on the CPU; GPU kernels round differently
    data = tmp_path / "data"
    shutil.copytree(demo, data)
    (data / "test" / "test_data" / "zz_odd_bytes").write_bytes(b"\x01\x02\x03")
    np.zeros(16000, dtype="<i2").tofile(data / "test" / "test_data" / "zz_silence")
    out = tmp_path / "package"

    assert export_main(["--experiment", str(experiment), "--out", str(out), "--dataset", "t1-cmd"]) == 0
    result = replay(out, data)

    files = sorted(p.name for p in (data / "test" / "test_data").iterdir())
    assert [p["filename"] for p in result.predictions] == files
    texts = {p["filename"]: p["text"] for p in result.predictions}
    assert texts["zz_odd_bytes"] == "" and texts["zz_silence"] == ""
    references, hypotheses = _project_transcripts(choose(experiment).checkpoint_dir, data)
    assert any(hypotheses), "the model decodes to nothing: the comparison would prove little"
    assert [texts[p.name] for p in sorted((demo / "test" / "test_data").iterdir())] == hypotheses
    assert result.cer == cer(references, hypotheses)
    assert result.audio_seconds > 0 and result.infer_seconds > 0
    assert (out / "setup.py").read_text().splitlines()[0] == "#nsml: pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"
    assert (out / "nsml_package.txt").exists() and "nsml submit SESSION 0" in (out / "README.md").read_text()
    assert "nsml run -d t1-cmd" in (out / "README.md").read_text()
    assert not (out / "nsml.py").exists() and not list(out.rglob("sitecustomize.py"))


@pytest.mark.slow
@needs_espeak
def test_best_trial_of_a_real_search_replays_with_the_projects_cer(
    tiny_search: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the reference below runs on the CPU
    data = tiny_search.parents[1] / "demo"
    out = tmp_path / "package"
    assert export_main(["--experiment", str(tiny_search), "--out", str(out)]) == 0
    result = replay(out, data)
    assert [p["filename"] for p in result.predictions] == sorted(p.name for p in (data / "test" / "test_data").iterdir())
    references, hypotheses = _project_transcripts(choose(tiny_search).checkpoint_dir, data)
    assert result.cer == cer(references, hypotheses)


@needs_espeak
def test_nova_package_fine_tunes_reports_each_epoch_and_submits_the_last(checkpoint: Path, demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "nova"
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(out), "--platform", "nova"]) == 0
    assert (out / "setup.py").read_text().startswith("#!nova: ")
    assert (out / "nova_package.txt").exists() and "import nova as nsml\n" in (out / "main.py").read_text()

    result = replay(out, demo, finetune_epochs=1)
    assert [r["epoch"] for r in result.reports] == [1]
    assert result.reports[0]["summary"] is True
    # One more epoch at lr 1e-6 on the same data and seeded split: validation as the training run measured it
    # (the loss: this barely trained model's greedy CER flips with the smallest change of weights).
    trained = load_checkpoint(checkpoint)["history"][-1]
    assert result.reports[0]["val_loss"] == pytest.approx(trained["val_loss"], rel=0.01)
    assert set(trained) <= set(result.reports[0])  # every metric of the epoch record is reported
    assert len(result.predictions) == len(list((demo / "test" / "test_data").iterdir()))


@needs_espeak
def test_unreadable_and_silent_files_give_empty_text_and_a_warning(checkpoint: Path, tmp_path: Path) -> None:
    state = load_checkpoint(checkpoint)
    recognizer = Recognizer(config_from_checkpoint(state), vocab_from_state(state["vocab"]), state["model"], torch.device("cpu"))
    folder = tmp_path / "test_data"
    folder.mkdir()
    (folder / "b_empty").write_bytes(b"")
    np.zeros(8000, dtype="<i2").tofile(folder / "a_silence")
    (np.random.default_rng(0).standard_normal(16000) * 3000).astype("<i2").tofile(folder / "c_noise")
    with pytest.warns(UserWarning) as caught:
        results = recognizer.infer_folder(folder)
    assert [r["filename"] for r in results] == ["a_silence", "b_empty", "c_noise"]
    assert results[0]["text"] == "" and results[1]["text"] == ""
    assert {str(w.message).split(":")[0] for w in caught} == {"a_silence", "b_empty"}


def test_replayed_process_cannot_import_the_search_stack(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("")
    env = _environment(tmp_path, tmp_path, tmp_path, list(INFERENCE_REQUIREMENTS), 0)
    probe = "import importlib.util as u; print([u.find_spec(m) is not None for m in ('numpy', 'Levenshtein', 'ray', 'optuna', 'mlflow', 'pandas', 'tune_asr')])"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str([True, True, False, False, False, False, False])


def test_a_package_module_that_imports_ray_is_refused_at_export(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("import numpy\nfrom tune_asr.config import TrainConfig\n\ndef f():\n    import ray\n")
    found = closure([module], set())
    assert {p.name for p in found.modules} == {"__init__.py", "config.py"}
    with pytest.raises(VendorError, match="leaky.py imports ray"):
        check_requirements(found, INFERENCE_REQUIREMENTS, "inference")


def test_standin_report_rejects_tensors_like_nsml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSML_LOCAL_SESSION", str(tmp_path))
    monkeypatch.syspath_prepend(str(STANDIN))
    nsml = importlib.import_module("nsml")
    try:
        nsml.report(summary=True, step=1, val_cer=0.5)
        with pytest.raises(TypeError, match="val_cer"):
            nsml.report(val_cer=torch.tensor(0.5))
    finally:
        sys.modules.pop("nsml")
    assert json.loads((tmp_path / "report.jsonl").read_text()) == {"summary": True, "step": 1, "val_cer": 0.5}


@needs_espeak
def test_export_refuses_a_non_empty_out_and_a_missing_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "stale.txt").write_text("x")
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(tmp_path)]) == 2
    assert export_main(["--checkpoint", str(tmp_path / "none"), "--out", str(tmp_path / "new")]) == 2
    with pytest.raises(ReplayError, match="main.py not found"):
        replay(tmp_path, tmp_path)


def test_export_names_a_checkpoint_it_cannot_use(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    garbage, foreign = tmp_path / "garbage.pt", tmp_path / "foreign.pt"
    garbage.write_bytes(b"not a checkpoint")
    torch.save({"model": {}}, foreign)
    for path, why in ((garbage, "not readable as a checkpoint"), (foreign, "not a tune-asr checkpoint (no config, vocab)")):
        assert export_main(["--checkpoint", str(path), "--out", str(tmp_path / "out")]) == 2
        assert f"{path}: {why}" in capsys.readouterr().err


def test_export_names_a_missing_or_foreign_search_folder_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for folder, why in ((tmp_path / "nonexistent", "no such folder"), (tmp_path, "not a search's folder")):
        assert export_main(["--experiment", str(folder), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --experiment {folder}: {why}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
