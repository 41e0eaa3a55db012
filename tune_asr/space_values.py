"""A trial's values read back through a search space: the keys it searched, the distributions Optuna drew
them from, and whether they belong to the space at all.

Optuna learns only from trials whose distributions it knows. A trial it did not sample in this process (a
finished search read back for its importances, an earlier search imported by ``--warm-start``) gets them by
running the define-by-run space with the trial's saved values as the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from trainables.resources import RESOURCE_KEYS
from tune_asr.config import TrainConfig
from tune_asr.search_space import SearchSpace

NOT_COMPARED = {"epochs", *RESOURCE_KEYS}  # a trial's budget and resources, not what it learns with


class SavedAnswers:
    """Answers a space's ``suggest_*`` calls with a trial's saved values and records each distribution."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.distributions: dict[str, BaseDistribution] = {}

    def _answer(self, name: str, distribution: BaseDistribution) -> Any:
        self.distributions[name] = distribution
        return self.config[name]

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return self._answer(name, IntDistribution(low, high, log=log, step=step))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self._answer(name, FloatDistribution(low, high, log=log))

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return self._answer(name, CategoricalDistribution(choices))


@dataclass(frozen=True)
class SpaceValues:
    """A config as ``space`` sees it: ``params`` (its searched keys) and their ``distributions``."""

    params: dict[str, Any]
    distributions: dict[str, BaseDistribution]


def searched_values(space: SearchSpace, config: dict[str, Any]) -> SpaceValues:
    """The searched part of a config the space itself produced; KeyError names a key it lacks."""
    answers = SavedAnswers(config)
    space(answers)
    return SpaceValues({name: config[name] for name in answers.distributions}, answers.distributions)


def fit_to_space(space: SearchSpace, config: dict[str, Any]) -> SpaceValues | str:
    """``config`` (a trial of another search) as a trial of ``space``, or why it is none: a searched key it
    lacks, a value outside its distribution, or a fixed value that differs (TrainConfig's default standing
    for a key the config lacks). The epochs and resources are not compared."""
    defaults = TrainConfig().to_dict()
    try:
        answers = SavedAnswers(config)
        produced = space(answers)
    except KeyError as missing:
        return f"no value for {missing.args[0]}, which the space searches"
    for name, distribution in answers.distributions.items():
        value = config[name]
        try:
            inside = distribution._contains(distribution.to_internal_repr(value))
        except (ValueError, TypeError):
            inside = False
        if not inside:
            return f"{name}={value!r} is outside the space's {distribution}"
    for key, value in produced.items():
        old = config.get(key, defaults.get(key))
        if key not in NOT_COMPARED and key not in answers.distributions and old != value:
            return f"{key}={old!r}, where the space fixes {value!r}"
    return SpaceValues({name: config[name] for name in answers.distributions}, answers.distributions)
