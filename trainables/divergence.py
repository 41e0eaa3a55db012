"""A diverged trial (NaN or infinite loss) fails once, with its reason, and is never retried.

Divergence is deterministic: a retry of the same configuration diverges again. The trial's last
report says so (``diverged=1``), which :class:`NoRetryOnDivergence` reads on the driver before the
trial's error arrives; a file in the trial's run folder ends any retry at once all the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray import tune

from tune_asr.metrics import METRIC, rung_figures
from tune_asr.training import TrainingDiverged

DIVERGED_FILE = "DIVERGED"  # in the trial's run folder: the reason it diverged


def diverged_report(error: TrainingDiverged, timings: dict[str, Any]) -> dict[str, Any]:
    """The last report of a diverged run: val_cer NaN, and so its composite (Tune refuses a result without
    the metric its searcher learns; NaN is never anyone's best)."""
    report = {"epoch": error.epoch, METRIC: float("nan"), "diverged": 1, "diverged_reason": str(error), **timings}
    return {**report, **rung_figures(report)}


def record_divergence(run_dir: Path, error: TrainingDiverged) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / DIVERGED_FILE).write_text(str(error), encoding="utf-8")


def raise_if_diverged(run_dir: Path) -> None:
    """Raise :class:`TrainingDiverged` with the recorded reason if this trial's run diverged before."""
    marker = run_dir / DIVERGED_FILE
    if marker.is_file():
        raise TrainingDiverged(marker.read_text(encoding="utf-8"))


class NoRetryOnDivergence(tune.Callback):
    """A trial that reports ``diverged`` gets no retry from ``FailureConfig``: its retry budget is spent here."""

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        if result.get("diverged"):
            trial.max_failures = 0
