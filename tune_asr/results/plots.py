"""The search's pictures, as small PNGs: CER per epoch, parameter importance, best CER per compute spent,
and with several objectives CER against the second one (the real-time factor) with the Pareto front drawn.

Figures are built with ``matplotlib.figure.Figure`` and saved through the Agg canvas, never pyplot:
no display is needed and no global figure state leaks between calls (the search CLI may call this
at its end, on a machine without a screen).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tune_asr.pareto import objective_point, pareto_front
from tune_asr.results.experiment import Experiment
from tune_asr.results.importance import Importance, too_few_to_trust
from tune_asr.trial_status import ASHA_STOPPED, BUDGET_STOPPED, FAILED, FINISHED, UNFINISHED

PLOTS_DIR = "plots"
SIZE, DPI = (8.0, 4.2), 100  # 800 x 420 pixels: tens of kilobytes per PNG
MARKERS = {FINISHED: "o", ASHA_STOPPED: "X", BUDGET_STOPPED: "|", FAILED: "s", UNFINISHED: ">"}  # at each trial's last epoch
MAX_LEGEND_TRIALS = 10
TITLE_CHARACTERS = 110  # what one title line holds at SIZE and fontsize 10


def write_plots(experiment: Experiment, importances: list[Importance], out_dir: Path | None = None) -> list[Path]:
    """Write the PNGs to ``out_dir`` (default ``<experiment>/plots``) and return their paths."""
    out_dir = Path(out_dir or experiment.path / PLOTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "cer_by_epoch.png": cer_by_epoch(experiment),
        "param_importance.png": importance_bars(importances, experiment),
        "best_cer_vs_hours.png": best_so_far(experiment),
    }
    objectives = experiment.settings.objectives
    if len(objectives) > 1:
        figures[f"cer_vs_{objectives[1]}.png"] = pareto_plot(experiment)
    paths = []
    for name, figure in figures.items():
        figure.savefig(out_dir / name, dpi=DPI)
        paths.append(out_dir / name)
    return paths


def cer_by_epoch(experiment: Experiment) -> Figure:
    """Every trial's validation CER per epoch; a marker at its last epoch says how it ended, so a line
    that stops short of the dotted max-epochs line with an X is one ASHA stopped."""
    reported = [t for t in experiment.trials if t.best]
    silent = len(experiment.trials) - len(reported)
    figure, ax = _figure(f"Validation CER per epoch ({experiment.settings.name}, {len(reported)} trials"
                         + (f"; {silent} never reported one)" if silent else ")"))
    if not reported:
        return _note(figure, ax, "no trial reported a validation CER yet")
    ranked = sorted(reported, key=lambda t: t.best["val_cer"])
    for index, trial in enumerate(ranked):
        rows = trial.history[trial.history["val_cer"].notna()]
        color = f"C{index % 10}"
        ax.plot(rows["epoch"], rows["val_cer"], color=color, linewidth=2.5 if trial is ranked[0] else 1.2,
                alpha=1.0 if trial.status == FINISHED else 0.7, label=f"{trial.trial_id} ({trial.status})")
        ax.plot(rows["epoch"].iloc[-1], rows["val_cer"].iloc[-1], MARKERS[trial.status], color=color, markersize=8,
                markeredgecolor="black")
    ax.axvline(experiment.settings.max_epochs, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="epoch", ylabel="validation CER")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    endings = [Line2D([], [], marker=MARKERS[s], color="grey", markeredgecolor="black", linestyle="", label=s)
               for s in MARKERS if any(t.status == s for t in reported)]
    endings.append(Line2D([], [], color="grey", linestyle=":", label="max epochs"))
    trials_shown = ax.get_legend_handles_labels()[0] if len(reported) <= MAX_LEGEND_TRIALS else []
    ax.legend(handles=trials_shown + endings, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def importance_bars(importances: list[Importance], experiment: Experiment) -> Figure:
    """One panel per evaluator; a panel without values shows its reason instead of failing. Too few
    trials to trust them: the title says so, in red."""
    figure = Figure(figsize=SIZE, layout="constrained")
    seen = max((i.trials for i in importances), default=0)
    title = f"Parameter importance for validation CER ({experiment.settings.name}, {seen} trials that ended with a CER)"
    warning = too_few_to_trust(importances)
    if warning:  # in red, wrapped to the figure's width
        title += "\n" + textwrap.fill(f"Warning: {warning}", TITLE_CHARACTERS)
    figure.suptitle(title, fontsize=10, color="#b00020" if warning else "black")
    for ax, importance in zip(figure.subplots(1, len(importances), squeeze=False)[0], importances):
        ax.set_title(importance.evaluator, fontsize=9)
        if not importance.values:
            _note(figure, ax, importance.note or "no values")
            continue
        names = list(importance.values)[::-1]  # largest on top
        ax.barh(names, [importance.values[n] for n in names], color="C0")
        ax.set_xlabel("share of importance")
        ax.tick_params(axis="y", labelsize=8)
    return figure


def best_so_far(experiment: Experiment) -> Figure:
    """Best CER found against the compute spent, trials counted in the order they ended: where the
    curve flattens, more trials stopped paying off. Failed and stopped trials add their hours too."""
    label = experiment.hours_label
    figure, ax = _figure(f"Best validation CER against {label} ({experiment.settings.name})")
    spent, points = 0.0, []
    for trial in sorted(experiment.trials, key=lambda t: t.ended_at):
        spent += experiment.hours(trial)
        if trial.best:
            points.append((spent, trial.best["val_cer"], trial.status))
    if not points:
        return _note(figure, ax, "no trial reported a validation CER yet")
    for x, y, status in points:
        ax.plot(x, y, MARKERS[status], color="C1" if status == FINISHED else "C7", markersize=6)
    ax.step([x for x, _, _ in points], np.minimum.accumulate([y for _, y, _ in points]), where="post", color="C0",
            linewidth=2, label="best so far")
    ax.set(xlabel=f"cumulative {label} (trials in the order they ended)", ylabel="validation CER")
    ax.set_xlim(left=0)
    points = [Line2D([], [], marker=MARKERS[s], color="C1" if s == FINISHED else "C7", linestyle="", label=f"a trial, {s}")
              for s in MARKERS if any(status == s for _, _, status in points)]
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *points], fontsize=8)
    return figure


def pareto_plot(experiment: Experiment) -> Figure:
    """Each trial's best CER against its second objective (the exported package's real-time factor):
    the Pareto front joined as a staircase, its trials named, so the price in CER of a faster model shows."""
    objectives = experiment.settings.objectives
    other = objectives[1]
    points = {t.trial_id: point for t in experiment.trials if (point := objective_point(t.best, objectives))}
    figure, ax = _figure(f"Validation CER against {other} ({experiment.settings.name}, {len(points)} trials)")
    if not points:
        return _note(figure, ax, f"no trial reported both validation CER and {other} yet")
    front = sorted(pareto_front(points), key=lambda trial_id: points[trial_id][1])  # faster first: the staircase falls
    ax.plot([p[1] for p in points.values()], [p[0] for p in points.values()], "o", color="C7", label="a trial")
    xs, ys = [points[t][1] for t in front], [points[t][0] for t in front]
    ax.step(xs, ys, "o-", where="post", color="C3", linewidth=2, label=f"Pareto front ({len(front)} trials)")
    for trial_id, x, y in zip(front, xs, ys):
        ax.annotate(trial_id, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set(xlabel=f"{other} (lower: faster)" if other == "rtf" else other, ylabel="validation CER")
    ax.legend(fontsize=8)
    return figure


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE, layout="constrained")
    ax = figure.subplots()
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return figure, ax


def _note(figure: Figure, ax: Axes, text: str) -> Figure:
    """Say in the picture why it holds no data: a PNG with a reason beats a missing file or a traceback."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, transform=ax.transAxes,
            bbox={"boxstyle": "round", "facecolor": "#f3f3f3", "edgecolor": "#999999"})
    return figure
