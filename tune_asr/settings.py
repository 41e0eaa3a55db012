"""A search's settings, saved as ``<storage>/<name>/search.json``: what ``--resume`` and the results read.

A module of its own so that the search CLI and the results both import it, and neither imports the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from trainables.resources import TrialResources
from tune_asr.strategy import Strategy

SETTINGS_FILE = "search.json"


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search; saved as ``<storage>/<name>/search.json`` for ``--resume``."""

    name: str
    storage: str
    data: str
    space: str
    trials: int
    max_epochs: int
    gpus_per_trial: float
    workers_per_trial: int
    cpus_per_worker: float | None
    seed: int
    grace_period: int
    reduction_factor: float
    mlflow_uri: str
    search_id: str
    searcher: str = "tpe"  # "random": Optuna's RandomSampler, the baseline of the efficiency benchmark
    scheduler: str = "asha"  # "fifo": no early stopping
    strict: bool = False  # any bad input file stops the search (and every trial) instead of being skipped
    time_budget_s: float | None = None  # the tuning loop stops (running trials included) after this long
    tpe_startup_trials: int = Strategy.tpe_startup_trials  # TPE's random draws before it models the results
    trial_runner: str = "auto"  # "train": every trial a Ray Train run (the side-by-side baseline of reused actors)
    rung_metric: str = "val_cer"  # what ASHA's rungs compare (searches saved before the flag decided on val_cer)
    brackets: int = 1  # ASHA brackets
    objectives: tuple[str, ...] = Strategy.objectives  # what the sampler minimises (val_cer first)
    warm_start: tuple[str, ...] = ()  # earlier searches whose finished trials the sampler started from
    imported_trials: int = 0  # how many of their trials it imported

    @property
    def strategy(self) -> Strategy:
        """Sampler, scheduler and rung figure (tune_asr.strategy); checks them."""
        return Strategy(max_epochs=self.max_epochs, seed=self.seed, searcher=self.searcher, scheduler=self.scheduler,
                        rung_metric=self.rung_metric, grace_period=self.grace_period,
                        reduction_factor=self.reduction_factor, brackets=self.brackets,
                        tpe_startup_trials=self.tpe_startup_trials, objectives=tuple(self.objectives))

    @property
    def resources(self) -> TrialResources:
        """One trial's resources (before any per-trial keys of the space)."""
        return TrialResources(self.gpus_per_trial, self.workers_per_trial, self.cpus_per_worker)

    @property
    def experiment_dir(self) -> Path:
        return Path(self.storage) / self.name

    def save(self) -> None:
        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        (self.experiment_dir / SETTINGS_FILE).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, experiment_dir: Path) -> "SearchSettings":
        path = experiment_dir / SETTINGS_FILE
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:  # not JSON, or keys of another version
            raise ValueError(f"{path}: not a search's settings ({error})") from None


def latest_search(storage: Path) -> Path | None:
    """The search under ``storage`` whose ``search.json`` was written last (the latest started), if any."""
    saved = sorted(Path(storage).glob(f"*/{SETTINGS_FILE}"), key=lambda p: p.stat().st_mtime)
    return saved[-1].parent if saved else None
