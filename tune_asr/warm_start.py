"""``--warm-start``: the finished trials of earlier searches, as trials of a new search's space.

Teams rerun searches as data and spaces change. Each finished trial of an earlier search over the same
space, or an overlapping one, enters the new search's Optuna study as a completed trial (see
:meth:`tune_asr.strategy.Strategy.make_searcher`): TPE models them from the first proposal, and none is
run again. A trial that does not fit the new space is skipped with a one-line reason.

What a trial contributes is what its own search's sampler was told: the objectives of its last report
(an ASHA-stopped trial's at its rung), since the new sampler also learns stopped trials that way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from tune_asr.settings import SETTINGS_FILE
from tune_asr.trial_status import ASHA_STOPPED, FINISHED

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from tune_asr.search_space import SearchSpace

IMPORTED_STATUSES = (FINISHED, ASHA_STOPPED)  # ended as a search ends them; failed and cut-short trials are left out


@dataclass(frozen=True)
class PriorTrial:
    """One imported trial: its searched values in the new space, and its objectives' values."""

    source: str  # "<search>/<trial id>"
    params: dict[str, Any]
    distributions: dict[str, BaseDistribution]
    values: tuple[float, ...]


@dataclass
class WarmStart:
    searches: list[Path]
    trials: list[PriorTrial] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line per trial left out, naming it and why

    def summary(self) -> str:
        names = ", ".join(path.name for path in self.searches)
        left_out = f"; {len(self.skipped)} skipped" if self.skipped else ""
        return f"Warm start: {len(self.trials)} trials imported from {names}{left_out}"


def resolve_search(given: Path, storage: Path) -> Path:
    """A search folder given as a path, or as a name under ``storage``; ValueError when neither holds one."""
    for candidate in (given, storage / given):
        if (candidate / SETTINGS_FILE).is_file():
            return candidate.resolve()
    raise ValueError(f"--warm-start {given}: no search there (no {SETTINGS_FILE} in {given} or {storage / given})")


def load_warm_start(searches: Sequence[Path], space: SearchSpace, objectives: Sequence[str]) -> WarmStart:
    """The finished trials of ``searches`` that fit ``space`` and reported every objective."""
    from tune_asr.results import load_experiment
    from tune_asr.space_values import fit_to_space

    warm = WarmStart(list(searches))
    for path in searches:
        for trial in load_experiment(path).trials:
            if trial.status not in IMPORTED_STATUSES:
                continue
            source = f"{path.name}/{trial.trial_id}"
            fitted = fit_to_space(space, trial.config or {})
            values = _last_values(trial.history, objectives)
            if isinstance(fitted, str) or isinstance(values, str):
                warm.skipped.append(f"{source}: {fitted if isinstance(fitted, str) else values}")
            else:
                warm.trials.append(PriorTrial(source, fitted.params, fitted.distributions, values))
    return warm


def _last_values(history: Any, objectives: Sequence[str]) -> tuple[float, ...] | str:
    """The objectives of a trial's last report, or why it has none to give."""
    if not len(history):
        return "no report"
    last = history.iloc[-1]
    values = tuple(float(last.get(name, math.nan)) for name in objectives)
    missing = [name for name, value in zip(objectives, values) if not math.isfinite(value)]
    return f"no {', '.join(missing)} in its last report" if missing else values
