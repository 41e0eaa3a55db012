"""A learning-curve table (``tune_asr.results.curves``) read for the replay, and the space it was drawn from.

The table says nothing of its search space, so the space is inferred from the configurations it
holds: a key with one value is fixed; a string or boolean key is a choice of the values seen; a
numeric key is a range from its smallest to its largest value (integers keep the step their values
share, and a few that leave gaps in it, such as batch sizes 16, 32, 64, are a choice; a float range spanning two decades or more is log-uniform, as learning rates are searched); a
key that only some trials have belongs to the options of a choice (named options first) that exactly
those trials took (a schedule's warm-up fraction). The sampler then proposes within what the table covers, and the
surrogate is never asked far outside it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path
from typing import Any

import pandas as pd

from tune_asr.results.curves import CURVE_COLUMNS
from tune_asr.search_space import Categorical, FloatRange, Fixed, IntRange, Param, SearchSpace

LOG_SPAN = 100.0  # a float range whose high/low is at least this is searched log-uniformly
FEW_VALUES = 4  # an integer key with at most this many values, leaving gaps in their step, is a choice


class TableError(ValueError):
    """The file is not a learning-curve table; the message names it and what is wrong."""


@dataclass(frozen=True)
class CurveTable:
    name: str
    curves: pd.DataFrame  # trial, epoch, val_cer, val_loss, seconds, startup_seconds
    configs: dict[str, dict[str, Any]]  # trial -> its TrainConfig values
    max_epochs: int

    @property
    def complete_trials(self) -> list[str]:
        """Trials with every epoch up to ``max_epochs`` (the surrogate learns whole curves)."""
        counts = self.curves.groupby("trial")["epoch"].max()
        return sorted(counts[counts >= self.max_epochs].index)

    @property
    def median_startup_s(self) -> float:
        return float(self.curves.groupby("trial")["startup_seconds"].first().median())

    def final_cer(self, trial: str) -> float:
        rows = self.curves[(self.curves.trial == trial) & (self.curves.epoch == self.max_epochs)]
        return float(rows["val_cer"].iloc[0])


def read_table(path: Path) -> CurveTable:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise TableError(f"{path}: not readable as CSV ({error})") from None
    missing = [column for column in CURVE_COLUMNS if column not in frame.columns]
    if missing:
        raise TableError(f"{path}: missing columns {', '.join(missing)} (expected {', '.join(CURVE_COLUMNS)})")
    configs = {}
    for line, (trial, text) in enumerate(zip(frame["trial"], frame["config"]), start=2):
        try:
            configs[str(trial)] = json.loads(text)
        except (TypeError, ValueError):
            raise TableError(f"{path}:{line}: config is not JSON") from None
    frame["trial"] = frame["trial"].astype(str)
    return CurveTable(Path(path).stem, frame, configs, int(frame["epoch"].max()))


def inferred_space(configs: list[dict[str, Any]], source: str) -> SearchSpace:
    """The space these configurations were drawn from (see the module's docstring)."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    always = [key for key in keys if all(key in config for config in configs)]
    params: dict[str, Param] = {key: _param([config[key] for config in configs]) for key in always}
    for key in keys:
        if key in always:
            continue
        choices = sorted((k for k in always if isinstance(params[k], Categorical)),  # named options first
                         key=lambda k: not all(isinstance(o, str) for o in params[k].options))
        owner = next((choice for choice in choices if _explains(choice, key, configs)), None)
        if owner is None:
            raise TableError(f"{source}: {key} is set in only some trials, and no choice key explains which")
        choice = params[owner]
        branches = dict(choice.branches)
        per_option = {option: _param([config[key] for config in configs if config[owner] == option])
                      for option in {config[owner] for config in configs if key in config}}
        # Optuna names a parameter by its key, so it takes one scale in every branch: log only where every
        # branch's values span enough for it (a key two branches share is one range in a real space).
        log = all(param.log for param in per_option.values() if isinstance(param, FloatRange))
        for option, param in per_option.items():
            if isinstance(param, FloatRange):
                param = replace(param, log=log)
            branches[option] = {**branches.get(option, {}), key: param}
        params[owner] = Categorical(choice.options, branches)
    return SearchSpace(params, source)


def _explains(choice: str, key: str, configs: list[dict[str, Any]]) -> bool:
    """Whether ``key`` is set exactly in the trials that took some options of ``choice``."""
    with_key = {config[choice] for config in configs if key in config}
    return all((config[choice] in with_key) == (key in config) for config in configs)


def _param(values: list[Any]) -> Param:
    distinct = sorted(set(values), key=lambda v: (str(type(v)), v))
    if len(distinct) == 1:
        return Fixed(distinct[0])
    if any(isinstance(v, (str, bool)) for v in distinct):
        return Categorical(tuple(distinct), {})
    if all(isinstance(v, int) for v in distinct):
        step = reduce(math.gcd, [b - a for a, b in zip(distinct, distinct[1:])])
        grid = (distinct[-1] - distinct[0]) // step + 1
        if len(distinct) <= FEW_VALUES and grid > len(distinct):
            return Categorical(tuple(distinct), {})
        return IntRange(distinct[0], distinct[-1], step=step)
    low, high = float(distinct[0]), float(distinct[-1])
    return FloatRange(low, high, log=low > 0 and high / low >= LOG_SPAN)
