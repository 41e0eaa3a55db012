"""Find the checkpoint to export in a Ray Tune experiment folder: the best one, or a given trial's.

Reads the folder with Ray's own ``ExperimentAnalysis`` (no trainable, no running cluster needed).
Every trial reports ``val_cer`` and ``checkpoint_path`` per epoch; Ray Train keeps only a trial's
best and latest checkpoints, so the choice is made among epochs whose checkpoint is still on disk,
by the rule of :mod:`tune_asr.best_checkpoint` (the one the leaderboard and MLflow use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tune_asr.best_checkpoint import CHECKPOINT_KEY, EpochReport, best_report, best_trial, local_checkpoint_dir
from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.export.package import ExportError
from tune_asr.metrics import METRIC


@dataclass(frozen=True)
class BestCheckpoint:
    """The checkpoint ``export-best`` packages, and the report that made it the best."""

    trial_id: str
    epoch: int
    val_cer: float
    val_loss: float
    checkpoint_dir: Path

    def describe(self) -> str:
        return f"trial {self.trial_id}, epoch {self.epoch}: val_cer {self.val_cer:.4f}, val_loss {self.val_loss:.4f}"


def choose(experiment: Path, trial_id: str | None = None) -> BestCheckpoint:
    """The best checkpoint still on disk over all trials (or of trial ``trial_id``)."""
    from ray.tune import ExperimentAnalysis

    experiment = Path(experiment).resolve()
    if not experiment.is_dir():
        raise ExportError(f"--experiment {experiment}: no such folder")
    try:
        analysis = ExperimentAnalysis(str(experiment))
    except ValueError:  # Ray's message names its internal state file; ours names the search's folder
        raise ExportError(f"--experiment {experiment}: not a search's folder (no Ray Tune experiment state in it); "
                          "pass results/<name> of a search that started") from None
    trials = analysis.trials
    if trial_id is not None:
        trials = [t for t in trials if trial_id in (t.trial_id, f"trial_{t.trial_id}")]
        if not trials:
            known = ", ".join(sorted(t.trial_id for t in analysis.trials))
            raise ExportError(f"{experiment}: no trial {trial_id!r}; trials: {known}")
    bests = {t.trial_id: best_report(_on_disk(analysis.trial_dataframes[t.trial_id].to_dict("records"), experiment))
             for t in trials}
    chosen = best_trial(bests)
    if chosen is None:
        raise ExportError(f"{experiment}: no {'trial ' + trial_id if trial_id else 'trial'} reported {METRIC} with a checkpoint still on disk")
    best = bests[chosen]
    return BestCheckpoint(chosen, int(best["epoch"]), float(best[METRIC]), float(best.get("val_loss", math.nan)),
                          Path(best[CHECKPOINT_KEY]))


def _on_disk(reports: list[EpochReport], experiment: Path) -> list[EpochReport]:
    """The reports whose checkpoint is still on disk (in ``experiment`` if it was moved), with that local path."""
    kept = []
    for report in reports:
        if isinstance(report.get(CHECKPOINT_KEY), str):
            directory = local_checkpoint_dir(Path(report[CHECKPOINT_KEY]), experiment)
            if (directory / CHECKPOINT_FILE).is_file():
                kept.append({**report, CHECKPOINT_KEY: str(directory)})
    return kept
