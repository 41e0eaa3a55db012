"""Find the checkpoint to export in a Ray Tune experiment folder: lowest validation CER, or a given trial.

Reads the folder with Ray's own ``ExperimentAnalysis`` (no trainable, no running cluster needed).
Every trial reports ``val_cer`` and ``checkpoint_path`` per epoch (``trainables``); Ray Train keeps
only a trial's best and latest checkpoints, so the choice is made among epochs whose checkpoint is
still on disk. Ties on ``val_cer`` go to the lower ``val_loss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.export.package import ExportError
from tune_asr.metrics import METRIC

CHECKPOINT_KEY = "checkpoint_path"  # added to each report by Ray's TuneReportCallback


@dataclass(frozen=True)
class Choice:
    trial_id: str
    epoch: int
    val_cer: float
    val_loss: float
    checkpoint_dir: Path

    def describe(self) -> str:
        return f"trial {self.trial_id}, epoch {self.epoch}: val_cer {self.val_cer:.4f}, val_loss {self.val_loss:.4f}"


def local_checkpoint_dir(path: Path, experiment: Path) -> Path:
    """The same checkpoint inside ``experiment`` when it is there (a copied or moved search folder,
    e.g. fetched from the GPU machine), else the path as reported."""
    if experiment.name not in path.parts:
        return path
    parts = path.parts
    local = experiment.joinpath(*parts[len(parts) - parts[::-1].index(experiment.name):])
    return local if local.exists() else path


def choose(experiment: Path, trial_id: str | None = None) -> Choice:
    """The epoch with the lowest ``val_cer`` over all trials (or trial ``trial_id``) that has a checkpoint."""
    from ray.tune import ExperimentAnalysis

    experiment = Path(experiment).resolve()
    try:
        analysis = ExperimentAnalysis(str(experiment))
    except ValueError as error:
        raise ExportError(f"{experiment}: not a Ray Tune experiment folder ({error})") from None
    trials = analysis.trials
    if trial_id is not None:
        trials = [t for t in trials if trial_id in (t.trial_id, f"trial_{t.trial_id}")]
        if not trials:
            known = ", ".join(sorted(t.trial_id for t in analysis.trials))
            raise ExportError(f"{experiment}: no trial {trial_id!r}; trials: {known}")
    candidates = []
    for trial in trials:
        for row in analysis.trial_dataframes[trial.trial_id].to_dict("records"):
            value, location = row.get(METRIC), row.get(CHECKPOINT_KEY)
            if not isinstance(location, str) or not isinstance(value, float) or not math.isfinite(value):
                continue
            directory = local_checkpoint_dir(Path(location), experiment)
            if (directory / CHECKPOINT_FILE).is_file():
                candidates.append(Choice(trial.trial_id, int(row["epoch"]), value, float(row.get("val_loss", math.nan)), directory))
    if not candidates:
        raise ExportError(f"{experiment}: no {'trial ' + trial_id if trial_id else 'trial'} reported {METRIC} with a checkpoint still on disk")
    return min(candidates, key=lambda c: (c.val_cer, c.val_loss))
