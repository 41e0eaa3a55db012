"""One rule names "the best checkpoint": the leaderboard, the MLflow runs and export-best agree on ties.

The real-search test runs two made-up trials through Ray Tune with the project's MLflow callback
(seconds, no model is trained): their reports tie on val_cer within a trial and across trials, and
their val_loss is arranged so that the old export rule (lowest val_loss among ties) would name
another checkpoint than the others.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from tests.tune_runs import run_tuner
from tune_asr.best_checkpoint import CHECKPOINT_KEY, best_report, best_trial, local_checkpoint_dir, ranked
from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.export.best_trial import choose
from tune_asr.results import leaderboard, load_experiment
from tune_asr.settings import SearchSettings
from tune_asr.tracking import TAG_BEST_CHECKPOINT, TAG_BEST_TRIAL, TAG_TRIAL, MLflowTracker, role_filter

MAX_EPOCHS = 3
# The searched key names the plan of each trial: (val_cer, val_loss) per epoch. The "gru" trial ties
# with itself at epochs 2 and 3 (the latest, epoch 3, is its best though epoch 2 has the lower loss);
# the "lstm" trial ties with it across trials at a lower loss, and the first trial created still wins.
PLANS = {
    "gru": [(0.5, 1.0), (0.3, 0.9), (0.3, 1.2)],
    "lstm": [(0.4, 1.0), (0.3, 0.5), (0.35, 0.6)],
}


def test_a_trials_best_is_its_lowest_val_cer_and_the_latest_of_ties() -> None:
    reports = [{"epoch": 1, "val_cer": 0.4}, {"epoch": 2, "val_cer": 0.3}, {"epoch": 3, "val_cer": 0.3},
               {"epoch": 4, "val_cer": 0.35}]
    assert best_report(reports)["epoch"] == 3


def test_ranking_puts_the_latest_of_equal_scores_first() -> None:
    reports = [{"epoch": 1, "val_cer": 0.3}, {"epoch": 2, "val_cer": 0.5}, {"epoch": 3, "val_cer": 0.3},
               {"epoch": 4, "val_cer": math.nan}]
    assert [r["epoch"] for r in ranked(reports)] == [3, 1, 2]


def test_diverged_and_missing_scores_never_win() -> None:
    reports = [{"epoch": 1, "val_cer": 0.9}, {"epoch": 2, "val_cer": math.nan}, {"epoch": 3}, {"epoch": 4, "val_cer": None}]
    assert best_report(reports)["epoch"] == 1
    assert best_report([{"epoch": 1, "val_cer": math.nan}]) is None
    assert best_report([]) is None


def test_of_tied_trials_the_first_created_wins() -> None:
    bests = {"b": {"val_cer": 0.3}, "a": {"val_cer": 0.3}, "c": {"val_cer": 0.2}, "d": None}
    assert best_trial(bests) == "c"
    del bests["c"]
    assert best_trial(bests) == "b"
    assert best_trial({"d": None, "e": {"val_cer": math.inf}}) is None


def test_a_moved_search_folder_finds_its_checkpoints_there(tmp_path: Path) -> None:
    moved = tmp_path / "copy" / "sweep"
    (moved / "train_runs" / "t1" / "checkpoint_2").mkdir(parents=True)
    reported = Path("/elsewhere/results/sweep/train_runs/t1/checkpoint_2")
    assert local_checkpoint_dir(reported, moved) == moved / "train_runs" / "t1" / "checkpoint_2"
    assert local_checkpoint_dir(Path("/elsewhere/results/sweep/gone"), moved) == Path("/elsewhere/results/sweep/gone")
    assert local_checkpoint_dir(Path("/other/place"), moved) == Path("/other/place")


def _planned_trial(config: dict) -> None:
    """Reports like the project's trials: epoch, val_cer, val_loss and a checkpoint folder per epoch."""
    from ray import tune

    for epoch, (val_cer, val_loss) in enumerate(PLANS[config["rnn_type"]], start=1):
        directory = Path(config["root"]) / config["rnn_type"] / f"checkpoint_{epoch}"
        directory.mkdir(parents=True)
        torch.save({"model": {}, "config": {}, "vocab": {}, "history": [{"epoch": epoch}]}, directory / CHECKPOINT_FILE)
        tune.report({"epoch": epoch, "val_cer": val_cer, "val_loss": val_loss, CHECKPOINT_KEY: str(directory)})


@pytest.fixture(scope="module")
def tied_search(tmp_path_factory: pytest.TempPathFactory) -> SearchSettings:
    from ray import tune

    root = tmp_path_factory.mktemp("ties")
    space = root / "space.yaml"
    space.write_text(f"epochs: {MAX_EPOCHS}\nrnn_type: {{choice: [{', '.join(PLANS)}]}}\n", encoding="utf-8")
    settings = SearchSettings(
        name="ties", storage=str(root / "results"), data=str(root / "unused"), space=str(space), trials=2,
        max_epochs=MAX_EPOCHS, gpus_per_trial=0.0, workers_per_trial=1, cpus_per_worker=None, seed=0, grace_period=1,
        reduction_factor=2.0, mlflow_uri=f"sqlite:///{root / 'mlflow.db'}", search_id="ties-search")
    settings.save()
    tracker = MLflowTracker(settings.mlflow_uri, settings.name, settings.search_id,
                            {k: v for k, v in asdict(settings).items() if k != "search_id"}, settings.space)
    space = {"rnn_type": tune.grid_search(list(PLANS)), "root": str(settings.experiment_dir / "train_runs"), "epochs": MAX_EPOCHS}
    run_tuner(_planned_trial, space, Path(settings.storage), settings.name, callbacks=[tracker])  # trials in PLANS' order
    return settings


@pytest.mark.slow
def test_leaderboard_mlflow_and_export_name_the_same_checkpoint(tied_search: SearchSettings) -> None:
    experiment = load_experiment(tied_search.experiment_dir)
    trial_of = {trial.params["rnn_type"]: trial for trial in experiment.trials}
    client = MlflowClient(tied_search.mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name(tied_search.name).experiment_id],
                              filter_string=role_filter(tied_search.search_id, "trial"))
    mlflow_best = {run.data.tags[TAG_TRIAL]: run.data.tags[TAG_BEST_CHECKPOINT] for run in runs}
    for plan, best_epoch in (("gru", 3), ("lstm", 2)):
        trial = trial_of[plan]
        expected = tied_search.experiment_dir / "train_runs" / plan / f"checkpoint_{best_epoch}"
        assert trial.best_checkpoint == expected
        assert Path(mlflow_best[trial.trial_id]) == expected
        assert choose(tied_search.experiment_dir, trial.trial_id).checkpoint_dir == expected

    winner = tied_search.experiment_dir / "train_runs" / "gru" / "checkpoint_3"
    assert Path(leaderboard(experiment).iloc[0]["checkpoint"]) == winner
    assert choose(tied_search.experiment_dir).checkpoint_dir == winner
    parent = client.search_runs([runs[0].info.experiment_id], filter_string=role_filter(tied_search.search_id, "search"))[0]
    assert parent.data.tags[TAG_BEST_TRIAL] == trial_of["gru"].trial_id
    assert Path(parent.data.tags[TAG_BEST_CHECKPOINT]) == winner


@pytest.mark.slow
def test_parent_run_sums_up_the_search(tied_search: SearchSettings) -> None:
    client = MlflowClient(tied_search.mlflow_uri)
    experiment_id = client.get_experiment_by_name(tied_search.name).experiment_id
    parent = client.search_runs([experiment_id], filter_string=role_filter(tied_search.search_id, "search"))[0]
    metrics = dict(parent.data.metrics)
    cpu_hours = metrics.pop("cpu_hours")
    assert metrics == {"best_val_cer": 0.3, "trials_finished": 2, "trials_asha_stopped": 0, "trials_budget_stopped": 0,
                       "trials_failed": 0, "trials_unfinished": 0, "gpu_hours": 0.0}
    assert cpu_hours > 0  # CPU trials: their hours are CPU-hours
