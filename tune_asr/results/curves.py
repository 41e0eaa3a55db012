"""A search's learning curves as one table: the input of the search-strategy replay benchmark.

One row per trial and reported epoch, with the columns of :data:`CURVE_COLUMNS`; ``config`` is the
trial's TrainConfig values (the space's fixed keys and its searched ones) as JSON. A search of random
configurations run to the end (``--searcher random --scheduler fifo``) records a table that a replay
can ask what any strategy would have seen (``benchmarks/search_efficiency/replay.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tune_asr.results.experiment import Experiment
from tune_asr.search_space import load_space

CURVES_FILE = "learning_curves.csv"
CURVE_COLUMNS = ["trial", "epoch", "val_cer", "val_loss", "train_loss", "seconds", "startup_seconds", "config"]


def learning_curves(experiment: Experiment) -> pd.DataFrame:
    """Every trial's reported epochs; ``seconds`` is an epoch's wall time as Tune timed the step
    (training, validation and checkpoint), ``startup_seconds`` the trial's time to its first step."""
    fixed = load_space(experiment.settings.space).with_fixed(epochs=experiment.settings.max_epochs).fixed_values()
    rows = []
    for trial in experiment.trials:
        config = json.dumps({**fixed, **trial.params}, sort_keys=True)
        history = trial.history.drop_duplicates("epoch", keep="last")  # a retried trial may report an epoch twice
        for report in history.to_dict("records"):
            if pd.notna(report.get("val_cer")):
                rows.append({"trial": trial.trial_id, "epoch": int(report["epoch"]), "val_cer": report["val_cer"],
                             "val_loss": report.get("val_loss"), "train_loss": report.get("train_loss"),
                             "seconds": report["time_this_iter_s"], "startup_seconds": report.get("startup_seconds"),
                             "config": config})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def write_learning_curves(experiment: Experiment) -> Path:
    path = experiment.path / CURVES_FILE
    learning_curves(experiment).to_csv(path, index=False)
    return path
