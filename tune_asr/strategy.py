"""A search strategy: the Optuna sampler, the Ray scheduler and the figure its rung decisions read.

Built in one place so that two clocks drive the same objects: the real search (``tune_asr.search``,
Ray Tune's loop) and the replay benchmark (``benchmarks/search_efficiency/replay.py``, a simulated
clock over recorded learning curves). A default chosen in the replay is then the default that runs.

The search's first objective is always :data:`tune_asr.metrics.METRIC` (``val_cer``): the leaderboard,
the best checkpoint and ``export-best`` choose by it, and the sampler learns it with its ties broken by
the loss (``val_cer_then_loss``), at every rung a trial reaches, not only when it ends (the replay's
choice: BENCHMARKS.md, "Search strategy"). Further objectives
(``rtf``: the exported package's speed) make the sampler Optuna's multi-objective TPE, and the leaderboard
marks the Pareto front. The scheduler's rung decisions read one figure (``rung_metric``) whatever the
objectives, because early in training CER sits on CTC's all-blank plateau, where most trials tie and the
loss still ranks them (BENCHMARKS.md, "Rung metric").

A warm start (``prior``: finished trials of earlier searches, :mod:`tune_asr.warm_start`) enters the
Optuna study as completed trials before the first proposal, so TPE's random start-up counts them.

Optuna and Ray are imported inside the builders, so reading settings stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tune_asr.metrics import CER_THEN_LOSS, METRIC, MODE, OBJECTIVES, RUNG_METRICS

if TYPE_CHECKING:
    import optuna
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import Searcher

    from tune_asr.search_space import SearchSpace
    from tune_asr.warm_start import PriorTrial

SEARCHERS = ("tpe", "random")
SCHEDULERS = ("asha", "fifo")
STOPPED_TRIALS = ("value", "pruned")
SAMPLER_FEEDBACK = ("end", "rungs")
SAMPLER_METRICS = (METRIC, CER_THEN_LOSS)
STUDY_NAME = "tune-asr"


class StrategyError(ValueError):
    """Settings no strategy can have; ``problems`` pairs each field with what is wrong with it."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{key} {why}" for key, why in problems))
        self.problems = problems


@dataclass(frozen=True)
class Strategy:
    """What decides which configurations run and for how long. Defaults are the replay's choice
    (BENCHMARKS.md, "Search strategy"); the search CLI's flags override some of them."""

    max_epochs: int
    seed: int = 0
    searcher: str = "tpe"  # "random": Optuna's RandomSampler, the baseline
    scheduler: str = "asha"  # "fifo": every trial runs to max_epochs
    rung_metric: str = "val_loss"  # what ASHA's rungs compare (RUNG_METRICS)
    grace_period: int = 1  # epochs before the first rung
    reduction_factor: float = 4.0  # a rung keeps the best 1/this of what it has seen
    brackets: int = 1  # ASHA brackets (HyperBand's spread of grace periods); 1 = plain ASHA
    tpe_startup_trials: int = 10  # random draws before TPE models the results
    tpe_multivariate: bool = False  # Optuna 5's default (True) collapsed beside ASHA in the replay
    tpe_group: bool = False  # with multivariate: model each branch of a conditional space on its own
    tpe_constant_liar: bool = True  # running trials count as bad guesses, so parallel proposals spread
    stopped_trials: str = "value"  # what TPE learns of a stopped trial: its last CER ("value") or "pruned"
    sampler_metric: str = CER_THEN_LOSS  # the figure TPE learns as the first objective: CER, its ties broken by loss
    sampler_feedback: str = "rungs"  # when TPE learns a trial: at every rung it reaches and its end (BOHB-like), or its "end"
    objectives: tuple[str, ...] = (METRIC,)  # what the sampler minimises: val_cer first, then e.g. rtf

    def __post_init__(self) -> None:
        checks = {
            "searcher": (self.searcher in SEARCHERS, f"one of {', '.join(SEARCHERS)}"),
            "scheduler": (self.scheduler in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}"),
            "rung_metric": (self.rung_metric in RUNG_METRICS, f"one of {', '.join(RUNG_METRICS)}"),
            "stopped_trials": (self.stopped_trials in STOPPED_TRIALS, f"one of {', '.join(STOPPED_TRIALS)}"),
            "sampler_metric": (self.sampler_metric in SAMPLER_METRICS, f"one of {', '.join(SAMPLER_METRICS)}"),
            "sampler_feedback": (self.sampler_feedback in SAMPLER_FEEDBACK, f"one of {', '.join(SAMPLER_FEEDBACK)}"),
            "grace_period": (1 <= self.grace_period <= self.max_epochs, f"from 1 to the max epochs ({self.max_epochs})"),
            "reduction_factor": (self.reduction_factor > 1, "above 1"),
            "brackets": (self.brackets >= 1, "at least 1"),
            "tpe_startup_trials": (self.tpe_startup_trials >= 1, "at least 1"),
            "objectives": (self.objectives[:1] == (METRIC,) and set(self.objectives) <= set(OBJECTIVES)
                           and len(set(self.objectives)) == len(self.objectives),
                           f"{METRIC}, then any of {', '.join(OBJECTIVES[1:])}, each once"),
        }
        bad = [(key, f"must be {why}, got {getattr(self, key)}") for key, (ok, why) in checks.items() if not ok]
        if len(self.objectives) > 1 and self.stopped_trials == "pruned":
            bad.append(("stopped_trials", "must be value with several objectives (Optuna prunes single-objective studies only)"))
        if self.sampler_feedback == "rungs" and self.stopped_trials == "pruned":
            bad.append(("sampler_feedback", "must be end when stopped trials are told as pruned (rungs tells them their value)"))
        if bad:
            raise StrategyError(bad)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def sampler(self) -> optuna.samplers.BaseSampler:
        import optuna

        if self.searcher == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.samplers.TPESampler(
            seed=self.seed, n_startup_trials=self.tpe_startup_trials, multivariate=self.tpe_multivariate,
            group=self.tpe_group and self.tpe_multivariate, constant_liar=self.tpe_constant_liar)

    def make_searcher(self, space: SearchSpace, prior: Sequence[PriorTrial] = ()) -> Searcher:
        """Optuna behind Ray's ``OptunaSearch``, minimising the objectives; ``prior`` trials are already in its study."""
        import optuna

        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        learned = (self.sampler_metric, *self.objectives[1:])
        metric = list(learned) if self.multi_objective else self.sampler_metric
        mode = [MODE] * len(self.objectives) if self.multi_objective else MODE
        study = dict(sampler=self.sampler(), study_name=STUDY_NAME, storage=self._prior_storage(prior) if prior else None)
        if self.stopped_trials == "pruned":
            from tune_asr.pruning_search import PruningOptunaSearch

            return PruningOptunaSearch(self.max_epochs, space=space, metric=metric, mode=mode, **study)
        if self.sampler_feedback == "rungs":
            from tune_asr.rung_feedback_search import RungFeedbackOptunaSearch

            return RungFeedbackOptunaSearch(self.rung_epochs(), space=space, metric=metric, mode=mode, **study)
        return OptunaSearch(space=space, metric=metric, mode=mode, **study)

    def rung_epochs(self) -> list[int]:
        """The epochs at which ASHA decides (``grace_period * reduction_factor**k`` below the max epochs,
        every bracket's); with FIFO, the grace period alone."""
        if self.scheduler == "fifo":
            return [self.grace_period]
        epochs, k = set(), 0
        while (epoch := math.ceil(self.grace_period * self.reduction_factor**k)) < self.max_epochs:
            epochs.add(epoch)
            k += 1
        return sorted(epochs)

    def _prior_storage(self, prior: Sequence[PriorTrial]) -> optuna.storages.BaseStorage:
        """An in-memory study holding ``prior`` as completed trials, which ``OptunaSearch`` then loads.

        Ray's own ``evaluated_rewards`` refuses a define-by-run space, so the trials go in through
        Optuna's ``add_trials``, with the distributions the space gives their values.
        """
        import optuna

        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=storage, study_name=STUDY_NAME, directions=["minimize"] * len(self.objectives))
        study.add_trials([optuna.trial.create_trial(params=trial.params, distributions=trial.distributions,
                                                    values=list(trial.values)) for trial in prior])
        return storage

    def make_scheduler(self) -> TrialScheduler:
        """Ray's ASHA deciding on ``rung_metric`` at epochs ``grace_period * reduction_factor**k``, or FIFO.

        ``stop_last_trials=False``: a trial that reaches ``max_epochs`` ends on its own (its process
        then serves the next trial, or its Train run shuts down cleanly).
        """
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

        if self.scheduler == "fifo":
            return FIFOScheduler()
        return ASHAScheduler(time_attr="epoch", metric=self.rung_metric, mode=MODE, max_t=self.max_epochs,
                             grace_period=self.grace_period, reduction_factor=self.reduction_factor,
                             brackets=self.brackets, stop_last_trials=False)
