"""The MLflow store the searches share: created once under a lock, whoever opens it first; and the
GPU-hours each trial's run holds, by that trial's own resources, as the leaderboard counts them."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from ray.tune.experiment import Trial

from tests.helpers import SENTENCES, finish_search, runs, start_search, tiny_space, write_nsml
from tune_asr.results import Experiment, format_leaderboard, leaderboard
from tune_asr.results.experiment import _trial_run
from tune_asr.search_space import load_space
from tune_asr.settings import SearchSettings
from tune_asr.tracking import TAG_ROLE, TAG_TRIAL, MLflowTracker, tracking_client

REPO = Path(__file__).resolve().parents[1]
# Each process says it is ready (MLflow imported), waits for the go file, then opens the store and writes to it.
OPEN_STORE = """
import sys, time
from pathlib import Path
from tune_asr.tracking import tracking_client
database, name = Path(sys.argv[1]), sys.argv[2]
(database.parent / f"ready-{name}").touch()
while not (database.parent / "go").exists():
    time.sleep(0.01)
tracking_client(f"sqlite:///{database}").create_experiment(name)
"""


def wait_until_ready(processes: list[subprocess.Popen], ready: list[Path]) -> None:
    """Until every process has written its ready file (one that exits first fails the test)."""
    while not all(path.exists() for path in ready):
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"exited {process.returncode} before it was ready:\n{process.communicate()[0][-3000:]}")
        time.sleep(0.05)


@pytest.mark.slow  # MLflow's migrations of a fresh store take tens of seconds, twice
def test_two_processes_that_create_one_fresh_store_at_once_both_succeed(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    names = ["first", "second"]
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_STORE, str(database), name], cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for name in names]
    try:
        wait_until_ready(processes, [tmp_path / f"ready-{name}" for name in names])
        (tmp_path / "go").touch()  # both open the store now: without the lock, MLflow's migrations collide
        outputs = [process.communicate(timeout=300)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0], "\n".join(output[-3000:] for output in outputs)
    client = MlflowClient(f"sqlite:///{database}")
    assert all(client.get_experiment_by_name(name) is not None for name in names)


@pytest.mark.slow
def test_two_searches_that_start_at_once_on_one_storage_both_complete(tmp_path: Path) -> None:
    data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)])
    space = tmp_path / "space.yaml"
    space.write_text(tiny_space("1.0e-2", epochs=1), encoding="utf-8")
    storage = tmp_path / "results"  # fresh: no mlflow.db yet, each search creates it
    names = ["left", "right"]
    searches = [start_search(["--data", str(data), "--space", str(space), "--trials", "1", "--storage", str(storage),
                              "--name", name], {}, num_cpus=1) for name in names]
    done = [finish_search(search) for search in searches]
    assert [d.returncode for d in done] == [0, 0], "\n".join(d.stdout[-3000:] for d in done)
    for name in names:
        parents, children = runs(storage, name)
        assert len(parents) == 1 and len(children) == 1 and children[0].info.status == "FINISHED"


# ---- GPU-hours of a search whose trials choose their resources ---------------------------------------------------

SHAPES = {"small": 0.25, "large": 2}  # trial id -> its gpus_per_trial: one packed trial, one 2-GPU DDP trial
WALL_SECONDS = 1800.0  # per epoch; 2 epochs: one hour of wall time each


def mixed_trials(space_file: Path) -> list[Trial]:
    """Two finished trials of the space, as Tune keeps them (config, two epoch results, status)."""
    fixed = load_space(space_file).fixed_values()
    return [Trial("AsrTrial", config={**fixed, "gpus_per_trial": gpus}, trial_id=trial_id, stub=True)
            for trial_id, gpus in SHAPES.items()]


def epoch_result(epoch: int, trial: Trial) -> dict:
    return {"epoch": epoch, "val_cer": 0.5 / epoch, "time_this_iter_s": WALL_SECONDS, "trial_id": trial.trial_id}


def test_hours_count_each_trials_own_resources_in_the_leaderboard_and_in_mlflow(tmp_path: Path) -> None:
    space_file = tmp_path / "mixed.yaml"
    space_file.write_text(tiny_space("1.0e-2", epochs=2, gpus_per_trial="{choice: [0.25, 2]}"), encoding="utf-8")
    settings = SearchSettings(name="mixed", storage=str(tmp_path), data="-", space=str(space_file), trials=2, max_epochs=2,
                              gpus_per_trial=0.0, workers_per_trial=1, cpus_per_worker=None, seed=0, grace_period=1,
                              reduction_factor=2.0, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", search_id="s1")
    trials = mixed_trials(space_file)
    tracker = MLflowTracker(settings.mlflow_uri, settings.name, settings.search_id,
                            {k: v for k, v in asdict(settings).items() if k != "search_id"}, str(space_file))
    tracker.setup(total_num_samples=len(trials))
    histories = {}
    for trial in trials:  # as the Tune driver calls the tracker
        tracker.on_trial_start(0, trials, trial)
        for epoch in (1, 2):
            trial.update_last_result(epoch_result(epoch, trial))
            tracker.on_trial_result(0, trials, trial, epoch_result(epoch, trial))
        trial.set_status(Trial.TERMINATED)
        tracker.on_trial_complete(0, trials, trial)
        histories[trial.trial_id] = pd.DataFrame([epoch_result(epoch, trial) for epoch in (1, 2)])  # Ray's progress.csv
    tracker.on_experiment_end(trials)

    space = load_space(space_file)
    experiment = Experiment(tmp_path / "mixed", settings,
                            [_trial_run(t, histories[t.trial_id], space, settings, tmp_path / "mixed") for t in trials])
    table = leaderboard(experiment).set_index("trial")
    assert experiment.hours_key == "gpu_hours"  # the search's own flag says 0 GPUs; its trials had them
    assert table["gpu_hours"].to_dict() == pytest.approx(SHAPES)  # one hour each, times its own GPUs
    assert "GPU-hours: trial wall time x its GPUs (each trial its own: 0.25 or 2)." in format_leaderboard(experiment, table.reset_index())

    client = tracking_client(settings.mlflow_uri)
    found = client.search_runs([client.get_experiment_by_name("mixed").experiment_id])
    children = {run.data.tags[TAG_TRIAL]: run.data.metrics for run in found if run.data.tags[TAG_ROLE] == "trial"}
    parent = next(run.data.metrics for run in found if run.data.tags[TAG_ROLE] == "search")
    assert {trial: metrics["gpu_hours"] for trial, metrics in children.items()} == pytest.approx(table["gpu_hours"].to_dict())
    assert {trial: metrics["cpu_hours"] for trial, metrics in children.items()} == pytest.approx({"small": 1.0, "large": 2.1})
    assert math.isclose(parent["gpu_hours"], sum(SHAPES.values())) and math.isclose(parent["cpu_hours"], 3.1)
