"""Pacing for searches whose trials choose their own resources (a space may search ``gpus_per_trial``).

Tune only sees each trial's actor; a several-worker trial's Ray Train workers reserve their own
placement group, out of Tune's sight. With one trial shape, ``max_concurrent_trials`` paces the
search; with several, :class:`ResourceLimiter` starts a suggestion only when what it needs (actor and
workers) fits beside the trials already running, and holds it until then, so small trials cannot
starve a large one of GPUs.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher

from trainables.resources import Runner, TrialResources


class ResourceLimiter(ConcurrencyLimiter):
    """Wraps a searcher: suggests the next configuration only once its resources are free."""

    def __init__(self, searcher: Searcher, capacity: dict[str, float], resources: TrialResources, runner: Runner):
        super().__init__(searcher, max_concurrent=1_000_000)  # the resources decide, not a count
        self.capacity, self.resources, self.runner = dict(capacity), resources, runner
        self.in_use: dict[str, dict[str, float]] = {}  # Tune trial id -> what it holds
        self.held: tuple[str, dict[str, Any]] | None = None  # (searcher's trial id, config) waiting for room
        self.alias: dict[str, str] = {}  # Tune trial id -> the id the searcher suggested it under

    def need(self, config: dict[str, Any]) -> dict[str, float]:
        return self.resources.for_config(config).per_trial(self.runner)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.held is None:
            config = self.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                return config
            self.held = (trial_id, config)
        inner_id, config = self.held
        need = self.need(config)
        if self.in_use and not self._fits(need):
            return None  # asked again when a trial completes
        self.held = None
        self.alias[trial_id] = inner_id
        self.in_use[trial_id] = need
        self.live_trials.add(trial_id)
        return config

    def _fits(self, need: dict[str, float]) -> bool:
        used = {name: sum(held.get(name, 0.0) for held in self.in_use.values()) for name in need}
        return all(used[name] + amount <= self.capacity.get(name, 0.0) + 1e-9 for name, amount in need.items())

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(self.alias.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        self.in_use.pop(trial_id, None)
        self.live_trials.discard(trial_id)
        self.searcher.on_trial_complete(self.alias.pop(trial_id, trial_id), result=result, error=error)
