"""The leaderboard: one row per trial, best validation CER first, with how sure that CER is and what it cost."""

from __future__ import annotations

import math
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd

from tune_asr.checkpoint import CHECKPOINT_FILE, load_checkpoint
from tune_asr.pareto import objective_point, pareto_front
from tune_asr.results.bootstrap import Interval, cer_interval
from tune_asr.results.experiment import Experiment, TrialRun
from tune_asr.short_names import abbreviations

CSV_FILE = "leaderboard.csv"
DEFAULT_WIDTH = 100  # the printed table's width when the terminal's is unknown (a log, a pipe)


def leaderboard(experiment: Experiment) -> pd.DataFrame:
    """Columns: trial, status, val_cer, ci_low, ci_high (bootstrap 95% over validation utterances),
    best_epoch, epochs, gpu_hours (cpu_hours for a CPU search), rtf (the exported package's real-time
    factor, as the trial measured it), pareto (with several objectives: on the Pareto front), the searched
    parameters, error, checkpoint. Sorted by val_cer; trials that never reported one come last."""
    objectives = experiment.settings.objectives
    front = set(pareto_front({t.trial_id: objective_point(t.best, objectives) for t in experiment.trials}))
    several = len(objectives) > 1
    rows = []
    for trial in experiment.trials:
        best = trial.best or {}
        interval = _interval(trial)
        rows.append({
            "trial": trial.trial_id, "status": trial.status, "val_cer": best.get("val_cer", math.nan),
            "ci_low": interval.low if interval else math.nan, "ci_high": interval.high if interval else math.nan,
            "best_epoch": best.get("epoch"), "epochs": trial.epochs, experiment.hours_key: experiment.hours(trial),
            "rtf": best.get("rtf", math.nan), **({"pareto": trial.trial_id in front} if several else {}),
            **{key: trial.params.get(key) for key in experiment.searched_keys},
            "error": trial.error, "checkpoint": str(trial.best_checkpoint or ""),
        })
    columns = ["trial", "status", "val_cer", "ci_low", "ci_high", "best_epoch", "epochs", experiment.hours_key, "rtf",
               *(["pareto"] if several else []), *experiment.searched_keys, "error", "checkpoint"]
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


def write_leaderboard_csv(experiment: Experiment, table: pd.DataFrame) -> Path:
    """The whole table (every parameter, the checkpoints' paths) as ``<experiment>/leaderboard.csv``;
    written aside and renamed, so a reader never sees half of it."""
    path = experiment.path / CSV_FILE
    partial = path.with_name(path.name + ".partial")
    table.to_csv(partial, index=False)
    partial.replace(path)
    return path


def format_leaderboard(experiment: Experiment, table: pd.DataFrame, width: int | None = None) -> str:
    """The table for a terminal ``width`` columns wide (default: this terminal's): CER with its interval
    in one column, no paths, the searched parameters under short names (a legend says them) as far as
    they fit; ``leaderboard.csv`` (:func:`write_leaderboard_csv`) has every column."""
    width = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    hours = experiment.hours_key
    shown = pd.DataFrame({
        "trial": table["trial"],
        "status": table["status"],
        "val_cer [95% CI]": [_cer_text(*values) for values in zip(table["val_cer"], table["ci_low"], table["ci_high"])],
        "epochs": [f"{e}" if pd.isna(b) else f"{e} (best {int(b)})" for e, b in zip(table["epochs"], table["best_epoch"])],
        experiment.hours_label: table[hours].map("{:.3g}".format),
        **({"rtf": table["rtf"].map(_param_text), "front": table["pareto"].map({True: "*", False: ""})}
           if "pareto" in table else {}),
    })
    short = abbreviations(experiment.searched_keys)
    left_out = []
    for index, key in enumerate(experiment.searched_keys):
        wider = shown.assign(**{short[key]: table[key].map(_param_text)})
        if _width(wider) > width:
            left_out = experiment.searched_keys[index:]
            break
        shown = wider
    counts = Counter(table["status"])
    settings = experiment.settings
    said = [f"{short[key]}={key}" for key in experiment.searched_keys if key not in left_out and short[key] != key]
    above = [
        f"Leaderboard of {settings.name}: {len(table)} trials "
        f"({', '.join(f'{n} {status}' for status, n in counts.most_common())}), at most {settings.max_epochs} epochs each",
        _hours_note(experiment),
        *([f"Objectives: {', '.join(settings.objectives)}; front: * marks the Pareto front (no trial is better "
           "on every objective)"] if "pareto" in table else []),
        *([f"Warm start: {settings.imported_trials} trials imported from earlier searches taught the sampler "
           "(not run again, not listed)"] if settings.warm_start else []),
        *([" ".join(["Parameters:", *said])] if said else []),
    ]
    below = [f"trial {t} failed: {e}" for t, e in zip(table["trial"], table["error"]) if isinstance(e, str)]
    if left_out:
        below.append(f"Too wide for {width} columns: {', '.join(left_out)}.")
    below.append(f"Every column, and each trial's best checkpoint: {experiment.path / CSV_FILE}")
    return "\n".join([*_wrapped(above, width), "", shown.to_string(index=False), *_wrapped(below, width)])


def _width(shown: pd.DataFrame) -> int:
    return max(map(len, shown.to_string(index=False).splitlines()))


def _wrapped(texts: list[str], width: int) -> list[str]:
    """Each of ``texts`` in lines of at most ``width`` (an error message or a path may be longer)."""
    return [line for text in texts for line in textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)]


def _hours_note(experiment: Experiment) -> str:
    counts = " or ".join(f"{count:g}" for count in experiment.devices_per_trial)
    each = f"{counts} per trial" if len(experiment.devices_per_trial) == 1 else f"each trial its own: {counts}"
    if experiment.device == "GPU":
        return f"GPU-hours: trial wall time x its GPUs ({each})."
    return f"No GPUs in this search: CPU-hours instead, trial wall time x CPUs reserved per trial ({each})."


def _cer_text(cer: float, low: float, high: float) -> str:
    if pd.isna(cer):
        return "-"
    return f"{cer:.4f}" if pd.isna(low) else f"{cer:.4f} [{low:.4f}, {high:.4f}]"


def _param_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
