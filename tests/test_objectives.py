"""Two objectives (CER and the exported package's real-time factor) and warm starts from earlier searches.

The space searches a learning rate that trains or one that leaves the model as initialised, and a small
or a large recurrence: CER follows the first, the real-time factor the second, so the front is real.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest
import ray
from mlflow import MlflowClient

from tests.helpers import runs, tiny_space
from tune_asr.data.demo import make_demo
from tune_asr.pareto import objective_point
from tune_asr.results import load_experiment, report
from tune_asr.results.leaderboard import CSV_FILE
from tune_asr.search import init_ray, main
from tune_asr.search_space import load_space
from tune_asr.strategy import Strategy, StrategyError
from tune_asr.tracking import PARETO_TABLE, TAG_PARETO_FRONT
from tune_asr.warm_start import load_warm_start

OBJECTIVES = ["val_cer", "rtf"]
SPACE = tiny_space("{choice: [1.0e-2, 1.0e-7]}", epochs=1).replace("rnn_hidden: 32", "rnn_hidden: {choice: [16, 128]}")


@pytest.fixture(scope="module")
def two_cpu_ray():
    init_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo") / "data", 40, seed=0, test_utterances=0, progress=False)


def write_space(folder: Path, text: str) -> Path:
    path = folder / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def front_search(two_cpu_ray, demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("results")
    space = write_space(tmp_path_factory.mktemp("space"), SPACE)
    code = main(["--data", str(demo), "--space", str(space), "--trials", "4", "--scheduler", "fifo", "--seed", "1",
                 "--tpe-startup-trials", "4", "--objectives", ",".join(OBJECTIVES), "--storage", str(storage), "--name", "two"])
    assert code == 0
    return storage / "two"


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and a != b


def test_a_two_objective_search_ends_with_its_pareto_front_in_the_leaderboard_plot_and_mlflow(front_search: Path) -> None:
    experiment = load_experiment(front_search)
    points = {t.trial_id: objective_point(t.best, OBJECTIVES) for t in experiment.trials}
    assert len(points) == 4 and all(point is not None for point in points.values())
    with open(front_search / CSV_FILE, encoding="utf-8") as table:
        rows = {row["trial"]: row for row in csv.DictReader(table)}
    front = {trial for trial, row in rows.items() if row["pareto"] == "True"}
    assert front and all(float(rows[t]["rtf"]) == pytest.approx(points[t][1]) for t in rows)
    for trial, point in points.items():  # the front: nothing beats its trials; everything else is beaten by one of them
        beaten = any(dominates(points[other], point) for other in points)
        assert beaten == (trial not in front)
    parent = runs(front_search.parent, "two")[0][0]
    assert set(parent.data.tags[TAG_PARETO_FRONT].split(",")) == front
    assert parent.data.metrics["pareto_trials"] == len(front)
    client = MlflowClient(f"sqlite:///{front_search.parent / 'mlflow.db'}")
    logged = json.loads(Path(client.download_artifacts(parent.info.run_id, PARETO_TABLE)).read_text(encoding="utf-8"))
    assert set(logged["columns"]) == {"trial", *OBJECTIVES}
    files = report(front_search, mlflow=False, echo=lambda text: None).files
    assert front_search / "plots" / "cer_vs_rtf.png" in files


def test_a_warm_start_imports_the_trials_that_fit_names_the_others_and_runs_none_again(
    front_search: Path, demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    experiment = load_experiment(front_search)
    small = {t.trial_id for t in experiment.trials if t.config["rnn_hidden"] == 16}
    narrower = write_space(tmp_path, SPACE.replace("rnn_hidden: {choice: [16, 128]}", "rnn_hidden: 16"))
    code = main(["--data", str(demo), "--space", str(narrower), "--trials", "2", "--scheduler", "fifo",
                 "--objectives", ",".join(OBJECTIVES), "--storage", str(front_search.parent), "--name", "again",
                 "--warm-start", "two"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Warm start: {len(small)} trials imported from two" in out
    for trial in experiment.trials:
        if trial.trial_id not in small:
            assert f"skipped two/{trial.trial_id}: rnn_hidden=128, where the space fixes 16" in out
    again = load_experiment(front_search.parent / "again")
    assert len(again.trials) == 2 and again.settings.imported_trials == len(small)
    assert f"{len(small)} trials imported by --warm-start (not run again)" in out  # the live view
    assert f"Warm start: {len(small)} trials imported from earlier searches" in out  # the leaderboard


def test_a_space_that_fits_no_trial_is_reported_not_crashed_on(front_search: Path, tmp_path: Path) -> None:
    other = load_space(write_space(tmp_path, SPACE.replace("n_mels: 40", "n_mels: 80")))
    warm = load_warm_start([front_search], other, OBJECTIVES)
    assert warm.trials == [] and len(warm.skipped) == 4
    assert all("n_mels=40, where the space fixes 80" in line for line in warm.skipped)


def test_a_warm_started_samplers_first_proposal_comes_from_tpe_not_its_random_start_up(
    front_search: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = load_space(load_experiment(front_search).settings.space).with_fixed(epochs=1)
    prior = load_warm_start([front_search], space, ["val_cer"]).trials
    assert len(prior) == 4
    random_draws = []
    original = optuna.samplers.RandomSampler.sample_independent
    monkeypatch.setattr(optuna.samplers.RandomSampler, "sample_independent",
                        lambda self, *args: random_draws.append(args[2]) or original(self, *args))
    strategy = Strategy(max_epochs=1, tpe_startup_trials=4)
    strategy.make_searcher(space, prior).suggest("warm")
    assert random_draws == []  # four imported trials: TPE models them from the first proposal
    strategy.make_searcher(space).suggest("cold")
    assert random_draws  # the cold search draws at random


def test_objectives_must_start_with_cer_and_name_known_figures() -> None:
    with pytest.raises(StrategyError, match="objectives"):
        Strategy(max_epochs=1, objectives=("rtf", "val_cer"))
    with pytest.raises(StrategyError, match="objectives"):
        Strategy(max_epochs=1, objectives=("val_cer", "speed"))
    with pytest.raises(StrategyError, match="stopped_trials"):
        Strategy(max_epochs=1, objectives=("val_cer", "rtf"), stopped_trials="pruned")
