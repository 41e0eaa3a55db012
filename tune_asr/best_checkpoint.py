"""Which checkpoint is "the best": one rule for the leaderboard, the MLflow runs and ``export-best``.

A trial's best report is the one with the lowest ``val_cer``; of equal ones, the latest. That is the
checkpoint Ray Train keeps when it keeps checkpoints by ``val_cer`` (later ones win ties), and the
one trained longest. Of several trials, the one whose best is lowest wins; of equal ones, the first
in the order Tune created them (the leaderboard's stable sort). Every report names its checkpoint
folder under ``checkpoint_path``.

No Ray, no MLflow: the results, the tracking callback and the export all import this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tune_asr.metrics import METRIC

CHECKPOINT_KEY = "checkpoint_path"  # each report's checkpoint folder (it holds checkpoint.pt)

EpochReport = Mapping[str, Any]  # what a trial reports after an epoch: epoch, val_cer, val_loss, checkpoint_path, ...


def finite(report: EpochReport, key: str) -> float | None:
    """``report[key]`` when it is a finite number; None when it is missing, NaN (a diverged epoch's
    ``val_cer``, an older search's ``rtf``) or not a number."""
    value = report.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def scored(report: EpochReport) -> bool:
    """Whether ``report`` has a finite ``val_cer`` (a diverged epoch reports NaN)."""
    return finite(report, METRIC) is not None


def ranked(reports: Iterable[EpochReport]) -> list[EpochReport]:
    """One trial's reports that have a finite ``val_cer``, best first: lowest ``val_cer``; of equal ones
    the latest (``reports`` in the order the trial made them). What a trial keeps checkpoints by."""
    kept = [report for report in reports if scored(report)]
    return [kept[i] for i in sorted(range(len(kept)), key=lambda i: (kept[i][METRIC], -i))]


def best_report(reports: Iterable[EpochReport]) -> EpochReport | None:
    """Of one trial's reports (in the order it made them), the best by :func:`ranked`; None when no
    report has a finite ``val_cer``."""
    return next(iter(ranked(reports)), None)


def best_trial(bests: Mapping[str, EpochReport | None]) -> str | None:
    """Of each trial's best report (trial id -> report, in the order Tune created the trials), the
    trial whose ``val_cer`` is lowest; the first of equal ones. None when no trial scored."""
    ranked = [(report[METRIC], trial_id) for trial_id, report in bests.items() if report is not None and scored(report)]
    return min(ranked, key=lambda pair: pair[0])[1] if ranked else None


def local_checkpoint_dir(path: Path, experiment: Path) -> Path:
    """The same checkpoint inside ``experiment`` when it is there (a copied or moved search folder,
    e.g. fetched from the GPU machine), else the path as reported."""
    if experiment.name not in path.parts:
        return path
    parts = path.parts
    local = experiment.joinpath(*parts[len(parts) - parts[::-1].index(experiment.name):])
    return local if local.exists() else path
