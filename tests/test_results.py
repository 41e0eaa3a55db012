"""The results command on a real tiny search: leaderboard, intervals, statuses, plots and MLflow artifacts.

One 3-trial search of 2 epochs (conftest's ``tiny_search``, shared with test_export) runs once (about a minute on 2 idle CPUs), in the space
of ``test_search``: a learning rate that trains and one that leaves the model at its initialisation.
TPE's seed-0 draws are [frozen, trained, frozen]; the third trial starts once the first two have
reported epoch 1, is worse than their median there, and ASHA (grace 1, reduction 2) stops it, so
the search holds both a finished and an ASHA-stopped trial.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from optuna.distributions import CategoricalDistribution, FloatDistribution

from tests.helpers import TINY_SEARCH_EPOCHS, needs_espeak
from tune_asr.results import Experiment, Report, TrialRun, format_leaderboard, leaderboard, report, write_leaderboard_csv
from tune_asr.results.__main__ import main as results_main
from tune_asr.results.bootstrap import cer_interval
from tune_asr.results.experiment import ASHA_STOPPED, FINISHED, load_experiment
from tune_asr.results.importance import MIN_TRIALS, TRUSTED_TRIALS, Importance, param_importances, too_few_to_trust
from tune_asr.results.mlflow_log import ARTIFACT_DIR, client_for, parent_run_id
from tune_asr.results.plots import importance_bars
from tune_asr.settings import SearchSettings


@pytest.fixture(scope="module")
def reported(tiny_search: Path) -> tuple[Report, str]:
    printed: list[str] = []
    return report(tiny_search, echo=printed.append), "\n".join(printed)


@pytest.mark.slow
@needs_espeak
def test_leaderboard_lists_every_trial_sorted_by_best_cer(reported: tuple[Report, str]) -> None:
    table = reported[0].table
    assert len(table) == 3
    assert table["val_cer"].notna().all()
    assert table["val_cer"].is_monotonic_increasing
    assert {"lr", "epochs", "best_epoch", "cpu_hours", "status"} <= set(table.columns)


@pytest.mark.slow
@needs_espeak
def test_every_interval_contains_its_point_estimate(reported: tuple[Report, str]) -> None:
    table = reported[0].table
    assert table["ci_low"].notna().all(), "every best checkpoint is kept, so every trial has an interval"
    assert ((table["ci_low"] <= table["val_cer"]) & (table["val_cer"] <= table["ci_high"])).all()


@pytest.mark.slow
@needs_espeak
def test_asha_stopped_trials_are_told_apart_from_finished_ones(reported: tuple[Report, str]) -> None:
    table = reported[0].table
    assert set(table["status"]) == {FINISHED, ASHA_STOPPED}
    assert (table.loc[table["status"] == FINISHED, "epochs"] == TINY_SEARCH_EPOCHS).all()
    assert (table.loc[table["status"] == ASHA_STOPPED, "epochs"] < TINY_SEARCH_EPOCHS).all()


@pytest.mark.slow
@needs_espeak
def test_a_cpu_search_reports_cpu_hours_and_says_so(reported: tuple[Report, str]) -> None:
    report_, printed = reported
    assert (report_.table["cpu_hours"] > 0).all()
    assert "No GPUs in this search: CPU-hours" in printed
    assert "val_cer [95% CI]" in printed


@pytest.mark.slow
@needs_espeak
def test_plots_are_written_small_and_not_blank(reported: tuple[Report, str]) -> None:
    pngs = [f for f in reported[0].files if f.suffix == ".png"]
    assert [f.name for f in pngs] == ["cer_by_epoch.png", "param_importance.png", "best_cer_vs_hours.png"]
    for png in pngs:
        assert png.parent == reported[0].experiment.path / "plots"
        assert png.stat().st_size < 300_000
        assert np.var(imread(png)) > 0, png


@pytest.mark.slow
@needs_espeak
def test_leaderboard_csv_reads_back(reported: tuple[Report, str]) -> None:
    csv = reported[0].files[0]
    assert csv.name == "leaderboard.csv"
    assert pd.read_csv(csv)["trial"].astype(str).tolist() == reported[0].table["trial"].tolist()


@pytest.mark.slow
@needs_espeak
def test_mlflow_parent_run_holds_the_leaderboard_and_plots(reported: tuple[Report, str]) -> None:
    report_ = reported[0]
    client = client_for(report_.experiment)
    assert report_.mlflow_run_id == parent_run_id(client, report_.experiment)
    logged = {Path(a.path).name for a in client.list_artifacts(report_.mlflow_run_id, ARTIFACT_DIR)}
    assert logged == {f.name for f in report_.files}


@pytest.mark.slow
@needs_espeak
def test_too_few_trials_for_importance_is_said_not_raised(tiny_search: Path) -> None:
    importances = param_importances(load_experiment(tiny_search))
    assert [i.values for i in importances] == [{}, {}]
    assert all(f"needs at least {MIN_TRIALS}" in i.note for i in importances)


@pytest.mark.slow
@needs_espeak
def test_importance_ranks_the_parameter_that_decides_cer(tiny_search: Path) -> None:
    """Eight made-up trials where lr alone decides the CER and dropout is noise."""
    experiment = load_experiment(tiny_search)
    distributions = {"lr": CategoricalDistribution([1e-2, 1e-7]), "dropout": FloatDistribution(0.0, 0.3)}
    rng = np.random.default_rng(0)
    trials = []
    for i in range(8):
        lr = [1e-2, 1e-7][i % 2]
        history = pd.DataFrame({"epoch": [1], "val_cer": [0.3 if lr == 1e-2 else 0.9], "time_this_iter_s": [1.0], "timestamp": [i]})
        trials.append(TrialRun(f"t{i}", FINISHED, {"lr": lr, "dropout": float(rng.uniform(0, 0.3))}, distributions,
                               history, best=history.iloc[0].to_dict()))
    for importance in param_importances(dataclasses.replace(experiment, trials=trials)):
        assert importance.note is None
        assert list(importance.values)[0] == "lr", importance


@pytest.mark.slow
@needs_espeak
def test_cli_reads_the_newest_search_under_storage(tiny_search: Path, capsys: pytest.CaptureFixture) -> None:
    assert results_main(["--storage", str(tiny_search.parent), "--no-mlflow"]) == 0
    assert "Leaderboard of tiny" in capsys.readouterr().out


def test_cli_names_a_folder_that_is_not_a_search(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert results_main([str(tmp_path)]) == 2
    assert f"{tmp_path}: no search.json" in capsys.readouterr().err


@pytest.mark.slow
@needs_espeak
def test_a_search_without_trials_yet_has_an_empty_leaderboard(tiny_search: Path) -> None:
    empty = leaderboard(dataclasses.replace(load_experiment(tiny_search), trials=[]))
    assert len(empty) == 0 and {"trial", "status", "val_cer", "checkpoint"} <= set(empty.columns)


def test_cli_names_a_corrupt_search_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "search.json").write_text("{not json", encoding="utf-8")
    assert results_main([str(tmp_path)]) == 2
    assert f"{tmp_path / 'search.json'}: not a search's settings" in capsys.readouterr().err


def _utterances(n: int, cer: float, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    lengths = rng.integers(5, 40, size=n)
    return [(f"u{i}", int(rng.binomial(length, cer)), int(length)) for i, length in enumerate(lengths)]


def test_bootstrap_interval_holds_the_cer_and_narrows_with_more_utterances() -> None:
    rng = np.random.default_rng(1)
    few, many = cer_interval(_utterances(20, 0.2, rng)), cer_interval(_utterances(2000, 0.2, rng))
    for interval in (few, many):
        assert interval.low <= interval.cer <= interval.high
    assert many.high - many.low < (few.high - few.low) / 4
    assert math.isclose(many.cer, 0.2, abs_tol=0.02)
    assert cer_interval([("a", 0, 10), ("b", 0, 7)]) == cer_interval([("a", 0, 10), ("b", 0, 7)])
    assert cer_interval([("a", 0, 10), ("b", 0, 7)]).high == 0.0


def _made_up_experiment(path: Path, trials: int = 3) -> Experiment:
    """A search of the default space's parameters with made-up trials (no Ray, no checkpoints)."""
    keys = ["batch_size", "rnn_type", "rnn_layers", "rnn_hidden", "dropout", "lr", "freq_mask_width", "freq_mask_count",
            "time_mask_fraction", "time_mask_count", "schedule", "warmup_fraction", "hold_fraction"]
    values = [16, "lstm", 2, 96, 0.2718, 0.00314, 12, 2, 0.0999, 4, "warmup_cosine", 0.1999, 0.4]
    settings = SearchSettings(name="made-up", storage=str(path.parent), data="-", space="-", trials=trials, max_epochs=4,
                              gpus_per_trial=0.0, workers_per_trial=1, cpus_per_worker=None, seed=0, grace_period=1,
                              reduction_factor=2.0, mlflow_uri="-", search_id="-")
    runs = []
    for i in range(trials):
        history = pd.DataFrame({"epoch": [1, 2], "val_cer": [0.9, 0.5 + i / 10], "time_this_iter_s": [60.0, 60.0],
                                "timestamp": [i, i + 1]})
        runs.append(TrialRun(f"t{i:07d}", FINISHED if i else ASHA_STOPPED, dict(zip(keys, values)), {}, history,
                             error=None, best=history.iloc[1].to_dict()))
    return Experiment(path, settings, runs)


def test_printed_leaderboard_fits_the_width_and_the_csv_has_every_column(tmp_path: Path) -> None:
    experiment = _made_up_experiment(tmp_path / "made-up")
    table = leaderboard(experiment)
    printed = format_leaderboard(experiment, table, width=100)
    assert max(map(len, printed.splitlines())) <= 100
    assert "fmw=freq_mask_width" in printed and "Too wide for 100 columns:" in printed
    csv_path = tmp_path / "made-up" / "leaderboard.csv"
    assert f"Every column, and each trial's best checkpoint: {csv_path}" in " ".join(printed.split())  # wrapped
    (tmp_path / "made-up").mkdir()
    written = pd.read_csv(write_leaderboard_csv(experiment, table))
    assert set(experiment.searched_keys) <= set(written.columns) and len(written) == 3
    assert not list((tmp_path / "made-up").glob("*.partial"))


def test_a_wide_terminal_gets_every_parameter(tmp_path: Path) -> None:
    experiment = _made_up_experiment(tmp_path / "made-up")
    printed = format_leaderboard(experiment, leaderboard(experiment), width=250)
    assert "Too wide" not in printed
    assert "hf" in printed.splitlines()[printed.splitlines().index("") + 1].split()


def test_importance_from_few_trials_comes_with_a_warning() -> None:
    assert "only 8 trials ended with a CER" in too_few_to_trust([Importance("fANOVA", 8, {"lr": 1.0})])
    assert too_few_to_trust([Importance("fANOVA", TRUSTED_TRIALS, {"lr": 1.0})]) is None
    assert too_few_to_trust([Importance("fANOVA", 3, {}, "needs at least 5")]) is None  # the panel says why instead


def test_importance_plot_title_carries_the_warning(tmp_path: Path) -> None:
    experiment = _made_up_experiment(tmp_path / "made-up")
    figure = importance_bars([Importance("fANOVA", 8, {"lr": 0.7, "dropout": 0.3})], experiment)
    assert "Warning: only 8 trials" in figure._suptitle.get_text()
