"""``OptunaSearch`` that tells Optuna of every rung a trial reaches, as BOHB feeds its model each budget.

Ray's ``OptunaSearch`` tells Optuna of a trial once, when it ends. Beside ASHA that is lopsided: the
trials stopped at the first rung are told at once, while a promising trial that ASHA promotes stays
unknown to TPE until it finishes (with constant liar, counted as a bad guess meanwhile). Here a trial is
told at its first rung, and each later rung it passes and its end add a finished Optuna trial of their
own with the same parameters and the figure reached there, so TPE's good group fills with the
configurations that keep improving. A module-level class, so Tune can pickle the searcher for ``--resume``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import optuna
from ray.tune.search.optuna import OptunaSearch


class RungFeedbackOptunaSearch(OptunaSearch):
    def __init__(self, rung_epochs: Iterable[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.rung_epochs = frozenset(rung_epochs)
        self._told_epoch: dict[str, int] = {}  # trial id -> the last epoch Optuna was told of

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if result.get("epoch") in self.rung_epochs:
            self._tell(trial_id, result)
        elif trial_id not in self._completed_trials:
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Told already (at a rung): only a later figure adds to what Optuna knows; an error adds nothing."""
        if trial_id not in self._completed_trials:
            super().on_trial_complete(trial_id, result, error)
        elif result and not error:
            self._tell(trial_id, result)

    def _tell(self, trial_id: str, result: dict[str, Any]) -> None:
        epoch = result["epoch"]
        if epoch <= self._told_epoch.get(trial_id, 0):
            return
        self._told_epoch[trial_id] = epoch
        if trial_id not in self._completed_trials:
            super().on_trial_complete(trial_id, result)
            return
        asked = self._ot_trials[trial_id]
        values = [result.get(metric) for metric in (self.metric if isinstance(self.metric, list) else [self.metric])]
        if None in values:  # a figure this report lacks: nothing to tell
            return
        self._ot_study.add_trial(optuna.trial.create_trial(
            params=asked.params, distributions=asked.distributions, values=values,
            user_attrs={"ray_trial_id": trial_id, "epoch": epoch}))
