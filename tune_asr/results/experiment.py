"""Read a finished (or interrupted) search folder into plain records: one per trial, with its status.

Works offline from the files the search leaves (``search.json`` and Ray Tune's experiment state,
read with Ray's ``ExperimentAnalysis``): no trainable and no running Ray cluster are needed, so it
runs equally on the machine that searched and on one the folder was copied to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from optuna.distributions import BaseDistribution

from trainables.resources import HOURS, TrialResources
from tune_asr.best_checkpoint import CHECKPOINT_KEY, best_report, local_checkpoint_dir
from tune_asr.search_space import SearchSpace, SpaceError, load_space
from tune_asr.settings import SETTINGS_FILE, SearchSettings, latest_search
from tune_asr.space_values import SpaceValues, searched_values
from tune_asr.tracking import last_error_line
from tune_asr.trial_status import ASHA_STOPPED, BUDGET_STOPPED, FAILED, FINISHED, UNFINISHED, trial_status

__all__ = ["ASHA_STOPPED", "BUDGET_STOPPED", "FAILED", "FINISHED", "UNFINISHED", "Experiment", "ResultsError", "TrialRun",
           "load_experiment", "newest_experiment"]


class ResultsError(ValueError):
    """The folder is not a search this package can read; the message says which file and what to do."""


@dataclass(frozen=True)
class TrialRun:
    """One trial: its searched parameters, its per-epoch reports, and how it ended.

    ``history`` has one row per reported epoch (``epoch``, ``val_cer``, ``time_this_iter_s``,
    ``timestamp``, ``checkpoint_path``, ...): Ray's ``progress.csv`` of the trial.
    """

    trial_id: str
    status: str  # FINISHED, ASHA_STOPPED, BUDGET_STOPPED, FAILED or UNFINISHED
    params: dict[str, Any]  # searched keys only, as the sampler saw them
    distributions: dict[str, BaseDistribution]
    history: pd.DataFrame
    error: str | None = None
    best: dict[str, Any] | None = None  # the best report (tune_asr.best_checkpoint's rule)
    resources: TrialResources | None = None  # the trial's own, when the space chose them; None: the search's
    config: dict[str, Any] | None = None  # everything the trial ran with, as Tune gave it (fixed keys included)

    @property
    def epochs(self) -> int:
        return _epochs(self.history)

    @property
    def wall_seconds(self) -> float:
        """Summed per-report times: unlike ``time_total_s`` this survives a retried trial restarting its clock."""
        return float(self.history["time_this_iter_s"].sum()) if len(self.history) else 0.0

    @property
    def ended_at(self) -> float:
        return float(self.history["timestamp"].max()) if len(self.history) else math.inf

    @property
    def best_checkpoint(self) -> Path | None:
        location = (self.best or {}).get(CHECKPOINT_KEY)
        return Path(location) if isinstance(location, str) else None


@dataclass(frozen=True)
class Experiment:
    """A search folder: its settings (``search.json``) and its trials."""

    path: Path
    settings: SearchSettings
    trials: list[TrialRun]

    def resources(self, trial: TrialRun) -> TrialResources:
        """What ``trial`` held: the search's resources with any the space chose for it."""
        return trial.resources or self.settings.resources

    @property
    def device(self) -> str:
        """What the trials' hours are counted in: "GPU" when any trial had one, else "CPU"."""
        gpus = self.settings.resources.use_gpu or any(self.resources(trial).use_gpu for trial in self.trials)
        return "GPU" if gpus else "CPU"

    @property
    def devices_per_trial(self) -> list[float]:
        """The distinct counts of :attr:`device` that one trial held (CPUs: its workers and its Tune
        driver): one value, unless the space chose the trials' resources."""
        shapes = {self.resources(trial) for trial in self.trials} or {self.settings.resources}
        return sorted({shape.per_trial(self.settings.trial_runner).get(self.device, 0.0) for shape in shapes})

    @property
    def hours_label(self) -> str:
        return f"{self.device}-hours"

    @property
    def hours_key(self) -> str:
        """The hours' column: "gpu_hours" ("cpu_hours" in a CPU search), as MLflow names the metric."""
        return HOURS[self.device]

    def hours(self, trial: TrialRun) -> float:
        """The trial's wall time times its own GPUs (CPUs in a CPU search): the rule MLflow logs by too."""
        return self.resources(trial).hours(trial.wall_seconds, self.settings.trial_runner)[self.hours_key]

    @property
    def searched_keys(self) -> list[str]:
        """Keys any trial sampled, in the space's order (a conditional key appears when one trial has it)."""
        return list(dict.fromkeys(key for trial in self.trials for key in trial.params))


def newest_experiment(storage: Path) -> Path:
    """The search under ``storage`` whose ``search.json`` was written last (the latest search started)."""
    found = latest_search(storage)
    if found is None:
        raise ResultsError(f"no search under {storage} (no */{SETTINGS_FILE}); run python -m tune_asr.search first")
    return found


def load_experiment(path: Path) -> Experiment:
    """Read ``path`` (``results/<name>``); raises :class:`ResultsError` naming what is missing."""
    from ray.tune import ExperimentAnalysis

    path = Path(path).resolve()
    if not (path / SETTINGS_FILE).is_file():
        raise ResultsError(f"{path}: no {SETTINGS_FILE}; expected a folder written by python -m tune_asr.search")
    try:
        settings = SearchSettings.load(path)
    except ValueError as error:
        raise ResultsError(str(error)) from None
    try:
        space = load_space(settings.space)
    except SpaceError as error:
        raise ResultsError(f"{path / SETTINGS_FILE} names the search space {settings.space}, which cannot be read "
                           f"({error}); put the space file back there") from None
    try:
        analysis = ExperimentAnalysis(str(path))
    except ValueError as error:
        raise ResultsError(f"{path}: no Ray Tune experiment state ({error}); did the search start?") from None
    trials = [_trial_run(trial, analysis.trial_dataframes.get(trial.trial_id), space, settings, path)
              for trial in analysis.trials]
    return Experiment(path, settings, trials)


def _trial_run(trial: Any, history: pd.DataFrame | None, space: SearchSpace, settings: SearchSettings, experiment: Path) -> TrialRun:
    history = history if history is not None and "epoch" in history else pd.DataFrame(columns=["epoch"])
    best = best_report(history.to_dict("records"))
    if best is not None and isinstance(best.get(CHECKPOINT_KEY), str):
        best = {**best, CHECKPOINT_KEY: str(local_checkpoint_dir(Path(best[CHECKPOINT_KEY]), experiment))}
    searched = _searched(space, trial.config, trial.trial_id)
    status = trial_status(trial.status, _epochs(history), settings)
    return TrialRun(trial.trial_id, status, searched.params, searched.distributions, history.reset_index(drop=True),
                    _error_line(trial), best, settings.resources.for_config(trial.config), dict(trial.config))


def _epochs(history: pd.DataFrame) -> int:
    return int(history["epoch"].max()) if len(history) else 0


def _error_line(trial: Any) -> str | None:
    return last_error_line(trial) if trial.status == "ERROR" else None


def _searched(space: SearchSpace, config: dict[str, Any], trial_id: str) -> SpaceValues:
    try:
        return searched_values(space, config)
    except KeyError as missing:
        raise ResultsError(f"trial {trial_id} has no value for {missing} of the space {space.source}; "
                           "was the space file edited after the search?") from None
