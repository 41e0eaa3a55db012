"""The search strategy (tune_asr.strategy) and the replay benchmark that drives the same objects."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from ray.tune.schedulers import TrialScheduler

from tune_asr.metrics import CER_THEN_LOSS, rung_figures
from tune_asr.search_space import Categorical, Fixed, FloatRange, IntRange
from tune_asr.strategy import Strategy, StrategyError

REPLAY_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "search_efficiency"
sys.path.insert(0, str(REPLAY_DIR))
from curve_table import inferred_space, read_table  # noqa: E402
from replay import Clock, replay, time_to, upper_median, warm_started  # noqa: E402

PLATEAU_CER = 0.9318  # the demo's all-blank CER at epoch 1


def rung_decisions(rung_metric: str, reports: list[tuple[str, float, float]]) -> dict[str, str]:
    """Ray's ASHA as the search builds it, fed epoch-1 reports (trial, val_cer, val_loss) in order."""
    scheduler = Strategy(max_epochs=4, rung_metric=rung_metric, reduction_factor=2.0).make_scheduler()
    decisions = {}
    for trial_id, cer, loss in reports:
        trial = SimpleNamespace(trial_id=trial_id)
        scheduler.on_trial_add(None, trial)
        report = {"epoch": 1, "val_cer": cer, "val_loss": loss}
        decisions[trial_id] = scheduler.on_trial_result(None, trial, {**report, **rung_figures(report)})
    return decisions


@pytest.mark.parametrize("rung_metric", ["val_loss", CER_THEN_LOSS])
def test_a_rung_decision_between_trials_tied_on_cer_follows_the_loss(rung_metric: str) -> None:
    earlier = [(f"e{i}", PLATEAU_CER, loss) for i, loss in enumerate([2.0, 3.0, 4.0, 5.0])]
    decisions = rung_decisions(rung_metric, [*earlier, ("low_loss", PLATEAU_CER, 2.5), ("high_loss", PLATEAU_CER, 4.5)])
    assert decisions["low_loss"] == TrialScheduler.CONTINUE
    assert decisions["high_loss"] == TrialScheduler.STOP


def test_on_cer_alone_tied_trials_are_not_told_apart() -> None:
    earlier = [(f"e{i}", PLATEAU_CER, loss) for i, loss in enumerate([2.0, 3.0, 4.0, 5.0])]
    decisions = rung_decisions("val_cer", [*earlier, ("low_loss", PLATEAU_CER, 2.5), ("high_loss", PLATEAU_CER, 4.5)])
    assert decisions["low_loss"] == decisions["high_loss"]


def test_the_composite_keeps_cer_order_and_breaks_ties_by_loss() -> None:
    def composite(cer: float, loss: float) -> float:
        return rung_figures({"val_cer": cer, "val_loss": loss})[CER_THEN_LOSS]

    assert composite(0.5001, 0.1) > composite(0.5000, 50.0)  # a better CER wins whatever the loss
    assert composite(PLATEAU_CER, 2.0) < composite(PLATEAU_CER, 3.0)
    assert composite(0.5, math.nan) == rung_figures({"val_cer": 0.5})[CER_THEN_LOSS] > composite(0.5, 5.0)
    assert math.isnan(rung_figures({"val_cer": math.nan, "diverged": 1})[CER_THEN_LOSS])  # Tune needs the key
    assert rung_figures({"epoch": 1}) == {}


def test_strategy_refuses_bad_settings_naming_each() -> None:
    with pytest.raises(StrategyError) as error:
        Strategy(max_epochs=3, grace_period=4, reduction_factor=1.0, rung_metric="wer")
    assert [key for key, _ in error.value.problems] == ["rung_metric", "grace_period", "reduction_factor"]


def test_search_flags_reach_the_strategy(tmp_path: Path) -> None:
    from tune_asr.search import new_settings, parse_args
    from tune_asr.search_space import load_space
    from tune_asr.search import DEFAULT_SPACE

    args = parse_args(["--storage", str(tmp_path), "--rung-metric", "val_cer", "--brackets", "2", "--reduction-factor", "3"])
    strategy = new_settings(args, load_space(DEFAULT_SPACE)).strategy
    assert (strategy.rung_metric, strategy.brackets, strategy.reduction_factor) == ("val_cer", 2, 3.0)
    scheduler = strategy.make_scheduler()
    assert scheduler._metric == "val_cer" and len(scheduler._brackets) == 2
    defaults = new_settings(parse_args(["--storage", str(tmp_path)]), load_space(DEFAULT_SPACE)).strategy
    assert defaults.rung_metric == Strategy.rung_metric and defaults.reduction_factor == Strategy.reduction_factor


def test_pruned_feed_tells_optuna_a_stopped_trial_was_pruned() -> None:
    import optuna

    space = inferred_space([{"lr": 1e-4}, {"lr": 1e-2}], "test")
    strategy = Strategy(max_epochs=4, stopped_trials="pruned", sampler_feedback="end", sampler_metric="val_cer")
    searcher = strategy.make_searcher(space)
    for trial_id, epochs in (("stopped", 1), ("finished", 4)):
        searcher.suggest(trial_id)
        report = {"epoch": epochs, "training_iteration": epochs, "val_cer": 0.5}
        searcher.on_trial_result(trial_id, report)
        searcher.on_trial_complete(trial_id, report)
    states = [trial.state for trial in searcher._ot_study.trials]
    assert states == [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE]


def test_sampler_metric_breaks_cer_ties_by_loss() -> None:
    """Two trials stopped on the same plateau CER: TPE told CER then loss ranks the lower loss first."""
    from tune_asr.metrics import CER_THEN_LOSS, rung_figures

    space = inferred_space([{"lr": 1e-4}, {"lr": 1e-2}], "test")
    searcher = Strategy(max_epochs=4, sampler_metric=CER_THEN_LOSS).make_searcher(space)
    for trial_id, loss in (("high_loss", 3.0), ("low_loss", 2.0)):
        searcher.suggest(trial_id)
        report = {"epoch": 1, "training_iteration": 1, "val_cer": 0.93, "val_loss": loss}
        searcher.on_trial_complete(trial_id, {**report, **rung_figures(report)})
    first, second = searcher._ot_study.trials
    assert second.value < first.value < 0.94
    with pytest.raises(StrategyError, match="sampler_metric"):
        Strategy(max_epochs=4, sampler_metric="val_loss")


def test_rung_feedback_tells_tpe_a_promoted_trial_at_each_rung_and_at_its_end() -> None:
    """Rungs at epochs 1 and 4 of 6: the promoted trial is known to TPE from epoch 1, not from its end."""
    import optuna

    space = inferred_space([{"lr": 1e-4}, {"lr": 1e-2}], "test")
    strategy = Strategy(max_epochs=6, sampler_feedback="rungs", sampler_metric="val_cer")
    assert strategy.rung_epochs() == [1, 4]
    searcher = strategy.make_searcher(space)
    searcher.suggest("promoted")
    searcher.suggest("stopped")
    for epoch, cer in enumerate([0.9, 0.6, 0.4, 0.3, 0.2, 0.1], start=1):
        searcher.on_trial_result("promoted", {"epoch": epoch, "training_iteration": epoch, "val_cer": cer})
        if epoch == 1:
            assert [trial.value for trial in searcher._ot_study.trials if trial.state.is_finished()] == [0.9]
    stopped = {"epoch": 1, "training_iteration": 1, "val_cer": 0.95}
    searcher.on_trial_complete("stopped", stopped)  # ASHA's stop: Tune sends no result before it
    searcher.on_trial_complete("promoted", {"epoch": 6, "training_iteration": 6, "val_cer": 0.1})
    searcher.on_trial_complete("promoted", {"epoch": 6, "training_iteration": 6, "val_cer": 0.1})  # told once
    told = [(trial.params["lr"], trial.value) for trial in searcher._ot_study.trials]
    assert [value for _, value in told] == [0.9, 0.95, 0.3, 0.1]
    assert told[0][0] == told[2][0] == told[3][0] != told[1][0]
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in searcher._ot_study.trials)
    with pytest.raises(StrategyError, match="sampler_feedback"):
        Strategy(max_epochs=6, sampler_feedback="rungs", stopped_trials="pruned")


CONFIGS = [
    {"batch_size": 16, "lr": 1e-5, "rnn_type": "gru", "rnn_hidden": 128, "schedule": "constant", "epochs": 6},
    {"batch_size": 32, "lr": 3e-4, "rnn_type": "lstm", "rnn_hidden": 256, "schedule": "warmup_cosine", "warmup_fraction": 0.1, "epochs": 6},
    {"batch_size": 64, "lr": 1e-2, "rnn_type": "gru", "rnn_hidden": 384, "schedule": "one_cycle", "warmup_fraction": 0.3, "epochs": 6},
    {"batch_size": 64, "lr": 2e-3, "rnn_type": "gru", "rnn_hidden": 512, "schedule": "warmup_cosine", "warmup_fraction": 0.05, "epochs": 6},
]


def test_inferred_space_reads_choices_ranges_and_conditional_keys() -> None:
    params = inferred_space(CONFIGS, "table").params
    assert params["batch_size"] == Categorical((16, 32, 64), {})  # gaps in the step: a choice
    assert params["rnn_hidden"] == IntRange(128, 512, step=128)
    assert params["lr"] == FloatRange(1e-5, 1e-2, log=True)
    schedule = params["schedule"]
    assert set(schedule.branches) == {"warmup_cosine", "one_cycle"}
    assert schedule.branches["one_cycle"]["warmup_fraction"] == Fixed(0.3)  # one value seen: fixed
    assert "warmup_fraction" not in params


def test_inferred_space_gives_a_key_of_several_branches_one_scale() -> None:
    """warmup_fraction spans 100x in one schedule's trials and 2x in the other's: Optuna refuses one key on
    two scales, so both branches take one, log only where every branch would be."""
    configs = [{"schedule": "a", "warmup_fraction": 0.001}, {"schedule": "a", "warmup_fraction": 0.1},
               {"schedule": "b", "warmup_fraction": 0.05}, {"schedule": "b", "warmup_fraction": 0.1}, {"schedule": "constant"}]
    branches = inferred_space(configs, "table").params["schedule"].branches
    assert branches["a"]["warmup_fraction"] == FloatRange(0.001, 0.1, log=False)
    assert branches["b"]["warmup_fraction"] == FloatRange(0.05, 0.1, log=False)


def write_table(path: Path, curves: dict[int, list[tuple[float, float]]], seconds: float = 10.0) -> Path:
    """A table of ``curves``: trial index -> [(val_cer, val_loss) per epoch]; trial i has lr 10**-(i+1)."""
    rows = [{"trial": f"t{i}", "epoch": epoch, "val_cer": cer, "val_loss": loss, "train_loss": loss, "seconds": seconds,
             "startup_seconds": 1.0, "config": json.dumps({"lr": 10.0 ** -(i + 1), "epochs": len(curve)})}
            for i, curve in curves.items() for epoch, (cer, loss) in enumerate(curve, start=1)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_table_with_a_bad_config_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    from curve_table import TableError

    path = write_table(tmp_path / "t.csv", {0: [(0.9, 3.0)]})
    path.write_text(path.read_text().replace('{""lr""', '{lr', 1))
    with pytest.raises(TableError, match=r"t\.csv:2: config is not JSON"):
        read_table(path)


class ExactCurves:
    """A surrogate that answers with the recorded curve of the trial whose lr was proposed."""

    def __init__(self, table):
        self.table = table

    def predict(self, configs):
        from surrogate import Curve

        out = []
        for config in configs:
            trial = min(self.table.configs, key=lambda t: abs(math.log10(self.table.configs[t]["lr"]) - math.log10(config["lr"])))
            rows = self.table.curves[self.table.curves.trial == trial].sort_values("epoch")
            out.append(Curve(rows.val_cer.to_numpy(), rows.val_loss.to_numpy(), rows.seconds.to_numpy()))
        return out


def test_replay_clock_runs_slots_in_parallel_and_stops_at_the_budget(tmp_path: Path) -> None:
    table = read_table(write_table(tmp_path / "t.csv", {i: [(0.9 - 0.1 * i, 3.0), (0.8 - 0.1 * i, 2.0)] for i in range(3)}))
    random = Strategy(max_epochs=2, seed=0, searcher="random", scheduler="fifo")
    improvements = replay(random, table, ExactCurves(table), Clock(slots=2, budget_s=25.0, fixed_s=2.0, startup_s=1.0)).improvements
    # two trials start at 2 s; their epochs end at 13 s and 23 s; the next trials' first epochs at 34 s, past the budget
    assert [when for when, _ in improvements][0] == pytest.approx(13.0)
    assert all(when <= 25.0 for when, _ in improvements) and improvements[-1][0] == pytest.approx(23.0)


def test_replay_asha_stops_the_trial_whose_loss_is_worse(tmp_path: Path) -> None:
    # Every trial sits on the same epoch-1 CER; only the loss says which will learn.
    curves = {i: [(PLATEAU_CER, 2.0 + i), (0.1 + 0.2 * i, 1.0), (0.05 + 0.2 * i, 0.5), (0.04 + 0.2 * i, 0.4)] for i in range(3)}
    table = read_table(write_table(tmp_path / "t.csv", curves))
    strategy = Strategy(max_epochs=4, seed=0, searcher="random", reduction_factor=2.0, rung_metric="val_loss")
    improvements = replay(strategy, table, ExactCurves(table), Clock(slots=1, budget_s=10_000.0, fixed_s=0.0, startup_s=0.0)).improvements
    assert improvements[-1][1] == pytest.approx(0.04)


def test_time_to_target_and_upper_median() -> None:
    assert time_to([(10.0, 0.5), (20.0, 0.2)], 0.3) == 20.0
    assert time_to([(10.0, 0.5)], 0.3) == math.inf
    assert upper_median([3.0, 1.0, math.inf, 2.0]) == 3.0  # at least half reach it: finite


def test_replay_cli_ends_with_the_ratio_line() -> None:
    import re
    import subprocess

    done = subprocess.run([sys.executable, str(REPLAY_DIR / "replay.py"), "--smoke"], capture_output=True, text=True,
                          timeout=600, cwd=REPLAY_DIR.parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"time-to-target ratio \(default / random\): [0-9.]+ \[[0-9.]+, ([0-9.]+|nan)\]", last), last


def test_a_warm_started_replay_learns_from_the_earlier_searchs_finished_trials(tmp_path: Path) -> None:
    table = read_table(write_table(tmp_path / "t.csv", {i: [(0.9 - 0.05 * i, 3.0), (0.8 - 0.05 * i, 2.0)] for i in range(6)}))
    strategy = Strategy(max_epochs=2, seed=0, scheduler="fifo", tpe_startup_trials=3)
    clock = Clock(slots=2, budget_s=40.0, fixed_s=0.0, startup_s=0.0)
    cold = replay(strategy, table, ExactCurves(table), clock)
    finals = {round(float(cer), 6) for cer in table.curves[table.curves.epoch == 2].val_cer}
    assert cold.finished and {round(cer, 6) for _, cer in cold.finished} <= finals  # what the sampler was told
    warm = warm_started(strategy, table, ExactCurves(table), clock)
    assert warm.improvements[0][0] == pytest.approx(10.0)  # its own first epoch (10 s): the earlier search is not counted
