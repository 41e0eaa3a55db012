"""The whole results step for one search: leaderboard to the terminal and a CSV, plots, MLflow artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tune_asr.results.curves import write_learning_curves
from tune_asr.results.experiment import Experiment, load_experiment
from tune_asr.results.importance import param_importances, too_few_to_trust
from tune_asr.results.leaderboard import format_leaderboard, leaderboard, write_leaderboard_csv
from tune_asr.results.mlflow_log import log_results
from tune_asr.results.plots import write_plots


@dataclass(frozen=True)
class Report:
    experiment: Experiment
    table: pd.DataFrame
    files: list[Path]  # the leaderboard and learning-curve CSVs, then the PNGs
    mlflow_run_id: str | None


def report(path: Path, *, mlflow: bool = True, tracking_uri: str | None = None,
           echo: Callable[[str], None] = print) -> Report:
    """Print the leaderboard of the search in ``path``, write ``leaderboard.csv``, ``learning_curves.csv``
    (the replay benchmark's input) and ``plots/*.png`` there, and log them to the search's MLflow parent run (unless ``mlflow`` is False).

    Raises :class:`~tune_asr.results.experiment.ResultsError` when the folder or the MLflow run
    cannot be read; the files are written before MLflow is touched.
    """
    experiment = load_experiment(path)
    table = leaderboard(experiment)
    echo(format_leaderboard(experiment, table))
    importances = param_importances(experiment)
    files = [write_leaderboard_csv(experiment, table), write_learning_curves(experiment), *write_plots(experiment, importances)]
    echo("\n" + "\n".join(f"Wrote {file}" for file in files))
    if warning := too_few_to_trust(importances):
        echo(f"Warning: parameter importance: {warning}")
    run_id = log_results(experiment, files, tracking_uri) if mlflow else None
    if run_id:
        echo(f"Logged them to MLflow run {run_id} (experiment {experiment.settings.name!r}, artifacts/results)")
    return Report(experiment, table, files, run_id)
