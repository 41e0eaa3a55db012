"""The leaderboard: one row per trial, best validation CER first, with how sure that CER is and what it cost."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from tune_asr.checkpoint import CHECKPOINT_FILE, load_checkpoint
from tune_asr.results.bootstrap import Interval, cer_interval
from tune_asr.results.experiment import Experiment, TrialRun

CSV_FILE = "leaderboard.csv"


def hours_column(experiment: Experiment) -> str:
    return f"{experiment.device.lower()}_hours"


def leaderboard(experiment: Experiment) -> pd.DataFrame:
    """Columns: trial, status, val_cer, ci_low, ci_high (bootstrap 95% over validation utterances),
    best_epoch, epochs, gpu_hours (cpu_hours for a CPU search), the searched parameters, error,
    checkpoint. Sorted by val_cer; trials that never reported one come last."""
    rows = []
    for trial in experiment.trials:
        best = trial.best or {}
        interval = _interval(trial)
        rows.append({
            "trial": trial.trial_id, "status": trial.status, "val_cer": best.get("val_cer", math.nan),
            "ci_low": interval.low if interval else math.nan, "ci_high": interval.high if interval else math.nan,
            "best_epoch": best.get("epoch"), "epochs": trial.epochs, hours_column(experiment): experiment.hours(trial),
            **{key: trial.params.get(key) for key in experiment.searched_keys},
            "error": trial.error, "checkpoint": str(trial.best_checkpoint or ""),
        })
    columns = ["trial", "status", "val_cer", "ci_low", "ci_high", "best_epoch", "epochs", hours_column(experiment),
               *experiment.searched_keys, "error", "checkpoint"]
    table = pd.DataFrame(rows, columns=columns)  # the columns even when no trial has started yet
    return table.sort_values("val_cer", na_position="last", kind="stable").reset_index(drop=True)


def _interval(trial: TrialRun) -> Interval | None:
    """From the best epoch's checkpoint (it keeps that epoch's per-utterance edits); None when Ray Train
    no longer keeps it, or it holds another epoch."""
    directory = trial.best_checkpoint
    if directory is None or not (directory / CHECKPOINT_FILE).is_file():
        return None
    state = load_checkpoint(directory)
    history, per_utterance = state.get("history") or [], state.get("val_per_utterance") or []
    if not per_utterance or not history or history[-1]["epoch"] != trial.best["epoch"]:
        return None
    return cer_interval(per_utterance)


def format_leaderboard(experiment: Experiment, table: pd.DataFrame) -> str:
    """The table for a terminal: CER with its interval in one column, without paths."""
    hours = hours_column(experiment)
    shown = pd.DataFrame({
        "trial": table["trial"],
        "status": table["status"],
        "val_cer [95% CI]": [_cer_text(*values) for values in zip(table["val_cer"], table["ci_low"], table["ci_high"])],
        "epochs": [f"{e}" if pd.isna(b) else f"{e} (best {int(b)})" for e, b in zip(table["epochs"], table["best_epoch"])],
        experiment.hours_label: table[hours].map("{:.3g}".format),
        **{key: table[key].map(_param_text) for key in experiment.searched_keys},
    })
    counts = Counter(table["status"])
    settings = experiment.settings
    lines = [
        f"Leaderboard of {settings.name} ({experiment.path}): {len(table)} trials "
        f"({', '.join(f'{n} {status}' for status, n in counts.most_common())}), at most {settings.max_epochs} epochs each",
        _hours_note(experiment),
        "",
        shown.to_string(index=False),
    ]
    lines += [f"trial {t} failed: {e}" for t, e in zip(table["trial"], table["error"]) if isinstance(e, str)]
    return "\n".join(lines)


def _hours_note(experiment: Experiment) -> str:
    if experiment.device == "GPU":
        return f"GPU-hours: trial wall time x {experiment.devices_per_trial:g} GPUs per trial."
    return (f"No GPUs in this search: CPU-hours instead, trial wall time x CPUs reserved per trial "
            f"({experiment.devices_per_trial:g}).")


def _cer_text(cer: float, low: float, high: float) -> str:
    if pd.isna(cer):
        return "-"
    return f"{cer:.4f}" if pd.isna(low) else f"{cer:.4f} [{low:.4f}, {high:.4f}]"


def _param_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
