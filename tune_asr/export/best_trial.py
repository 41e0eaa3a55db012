"""Find the checkpoint to export in a Ray Tune experiment folder: the best one, or a given trial's.

Reads the folder with Ray's own ``ExperimentAnalysis`` (no trainable, no running cluster needed).
Every trial reports ``val_cer`` and ``checkpoint_path`` per epoch; Ray Train keeps only a trial's
best and latest checkpoints, so the choice is made among epochs whose checkpoint is still on disk,
by the rule of :mod:`tune_asr.best_checkpoint` (the one the leaderboard and MLflow use). With an
:class:`~tune_asr.export.rtf_limit.RtfLimit`, only trials whose best report's ``rtf`` is within it compete.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tune_asr.best_checkpoint import CHECKPOINT_KEY, EpochReport, best_report, best_trial, local_checkpoint_dir
from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.export.package import ExportError
from tune_asr.export.rtf_limit import RtfLimit, reported_rtf
from tune_asr.metrics import METRIC


@dataclass(frozen=True)
class BestCheckpoint:
    """The checkpoint ``export-best`` packages, and the report that made it the best."""

    trial_id: str
    epoch: int
    val_cer: float
    val_loss: float
    checkpoint_dir: Path
    rtf: float | None = None  # as the trial measured it; None for a search from before it was measured
    why: str = ""  # why this trial, when a limit on the rtf took part in the choice

    def describe(self) -> str:
        rtf = "" if self.rtf is None else f", rtf {self.rtf:.4g}"
        why = f" ({self.why})" if self.why else ""
        return f"trial {self.trial_id}, epoch {self.epoch}: val_cer {self.val_cer:.4f}, val_loss {self.val_loss:.4f}{rtf}{why}"


def choose(experiment: Path, trial_id: str | None = None, limit: RtfLimit | None = None) -> BestCheckpoint:
    """The best checkpoint still on disk over all trials (or of trial ``trial_id``), among those within ``limit``."""
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
    if best_trial(bests) is None:
        raise ExportError(f"{experiment}: no {'trial ' + trial_id if trial_id else 'trial'} reported {METRIC} with a checkpoint still on disk")
    chosen, why = pick(bests, limit)
    best = bests[chosen]
    return BestCheckpoint(chosen, int(best["epoch"]), float(best[METRIC]), float(best.get("val_loss", math.nan)),
                          Path(best[CHECKPOINT_KEY]), reported_rtf(best), why)


def pick(bests: Mapping[str, EpochReport | None], limit: RtfLimit | None) -> tuple[str, str]:
    """Of each trial's best report (trial id -> report, as :func:`~tune_asr.best_checkpoint.best_trial`
    takes them; at least one scored), the trial to export and why; ExportError when none is within ``limit``."""
    cer_best = best_trial(bests)
    if limit is None:
        return cer_best, ""
    chosen = best_trial({trial: report for trial, report in bests.items() if report is not None and limit.fits(reported_rtf(report))})
    if chosen is None:
        raise ExportError(_none_within(bests, limit))
    if chosen == cer_best:
        return chosen, f"the CER-best trial, within {limit}"
    rtf = reported_rtf(bests[cer_best])
    if rtf is None:
        return chosen, f"the CER-best trial, {cer_best}, reported no rtf, so it cannot be shown to be within {limit}"
    return chosen, f"the CER-best trial, {cer_best}, rtf {rtf:.4g}, is over {limit}"


def _none_within(bests: Mapping[str, EpochReport | None], limit: RtfLimit) -> str:
    """One line: the limit, the fastest trial's rtf, and how many trials reported none."""
    rtfs = {trial: reported_rtf(report) for trial, report in bests.items() if report is not None}
    measured = {trial: rtf for trial, rtf in rtfs.items() if rtf is not None}
    old_search = "(a search from before it was measured)"
    if not measured:
        return f"no trial is within {limit}: none reported an rtf {old_search}, so none can be shown to be within it"
    fastest = min(measured, key=measured.__getitem__)
    unmeasured = len(rtfs) - len(measured)
    unknown = f"; {unmeasured} reported no rtf {old_search} and cannot be shown to be within it" if unmeasured else ""
    return f"no trial is within {limit}: the fastest, trial {fastest}, has rtf {measured[fastest]:.4g}{unknown}"


def _on_disk(reports: list[EpochReport], experiment: Path) -> list[EpochReport]:
    """The reports whose checkpoint is still on disk (in ``experiment`` if it was moved), with that local path."""
    kept = []
    for report in reports:
        if isinstance(report.get(CHECKPOINT_KEY), str):
            directory = local_checkpoint_dir(Path(report[CHECKPOINT_KEY]), experiment)
            if (directory / CHECKPOINT_FILE).is_file():
                kept.append({**report, CHECKPOINT_KEY: str(directory)})
    return kept
