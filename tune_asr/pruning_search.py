"""``OptunaSearch`` that tells Optuna of an early-stopped trial as pruned, not as finished.

Ray's ``OptunaSearch`` reports a trial that ASHA stopped as COMPLETE with its last CER, an early
epoch's figure that TPE then compares with finished trials' final ones. Told PRUNED instead, Optuna's
TPE ranks such a trial below every finished one, by its last reported value (as BOHB models each
budget apart). A module-level class, so Tune can pickle the searcher for ``--resume``.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch


class PruningOptunaSearch(OptunaSearch):
    def __init__(self, max_epochs: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_epochs = max_epochs

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        stopped_early = result is not None and not error and result.get("epoch", self.max_epochs) < self.max_epochs
        super().on_trial_complete(trial_id, None if stopped_early else result, error)
