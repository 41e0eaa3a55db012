"""The Pareto front of a search with several objectives: the trials no other trial beats on every one.

One rule for the leaderboard's ``pareto`` column, its plot, the MLflow parent run and ``export-best``:
a trial's point is its best report's objectives (the report that ``tune_asr.best_checkpoint`` chooses by
CER), and Optuna decides dominance (``Study.best_trials`` of a throwaway study), as its sampler does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def objective_point(report: Mapping[str, Any] | None, objectives: Sequence[str]) -> tuple[float, ...] | None:
    """A report's objectives, or None when one of them is missing or not finite."""
    if not report:
        return None
    values = tuple(float(report.get(name, math.nan)) for name in objectives)
    return values if all(math.isfinite(v) for v in values) else None


def pareto_front(points: Mapping[str, Sequence[float] | None]) -> list[str]:
    """The ids whose points no other point dominates (every objective minimised), lowest first objective
    first; ids without a point are never on it."""
    import optuna

    known = {name: list(point) for name, point in points.items() if point is not None}
    if not known:
        return []
    dimensions = len(next(iter(known.values())))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize"] * dimensions)
    study.add_trials([optuna.trial.create_trial(values=point, params={}, distributions={}, user_attrs={"id": name})
                      for name, point in known.items()])
    return sorted((t.user_attrs["id"] for t in study.best_trials), key=lambda name: known[name])
