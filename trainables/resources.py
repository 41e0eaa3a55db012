"""How much of the cluster one trial takes, which runner it gets, and so how many trials run at once.

A plain description (no Ray import): the Ray objects are built where they are used. A trial with
one worker (CPU, a fraction of a GPU, or one GPU) runs in a reused Tune actor that holds the
worker's resources itself; a trial with several workers runs as a Ray Train DDP run whose workers
reserve their own placement group, while its Tune actor only waits (``TRIAL_DRIVER_CPU``).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

TRIAL_DRIVER_CPU = 0.1  # Tune rejects 0; a Train trial's actor only waits on its Train run
Runner = Literal["auto", "train"]  # auto: by the trial's resources; train: every trial is a Ray Train run
HOURS = {"GPU": "gpu_hours", "CPU": "cpu_hours"}  # what a trial's hours are counted in, and their names


@dataclass(frozen=True)
class TrialResources:
    """One trial's workers, from ``--gpus-per-trial``, ``--workers-per-trial``, ``--cpus-per-worker``
    (or the same keys in a search space, per trial).

    GPU trials: ``gpus_per_trial >= 1`` gives that many workers with one whole GPU each (DDP over
    NCCL); below 1 gives one worker with that fraction, so several small trials share a GPU
    (fractional GPUs shared by DDP ranks break NCCL, ray-project/ray#48012). CPU trials:
    ``workers_per_trial`` workers over gloo. ``cpus_per_worker`` defaults to 1 on GPU and, on
    CPU, to one core per worker with the driver's share taken out, so N trials fill N cores.
    """

    gpus_per_trial: float = 0.0
    workers_per_trial: int = 1
    cpus_per_worker: float | None = None

    def __post_init__(self) -> None:
        if self.gpus_per_trial < 0 or (self.gpus_per_trial > 1 and not float(self.gpus_per_trial).is_integer()):
            raise ValueError(f"--gpus-per-trial must be a fraction below 1 or a whole number, got {self.gpus_per_trial}")
        if self.workers_per_trial < 1:
            raise ValueError(f"--workers-per-trial must be >= 1, got {self.workers_per_trial}")
        if self.gpus_per_trial and self.workers_per_trial != 1:
            raise ValueError("--workers-per-trial is for CPU trials; with GPUs each worker takes one GPU (or a fraction)")
        if self.cpus_per_worker is not None and self.cpus_per_worker <= 0:
            raise ValueError(f"--cpus-per-worker must be > 0, got {self.cpus_per_worker}")

    def for_config(self, config: Mapping[str, Any]) -> "TrialResources":
        """These resources with any of :data:`RESOURCE_KEYS` that a trial's config sets (a space may search them)."""
        chosen = {key: config[key] for key in RESOURCE_KEYS if key in config}
        return replace(self, **chosen) if chosen else self

    @property
    def use_gpu(self) -> bool:
        return self.gpus_per_trial > 0

    @property
    def num_workers(self) -> int:
        return int(self.gpus_per_trial) if self.gpus_per_trial >= 1 else self.workers_per_trial

    def uses_train(self, runner: Runner = "auto") -> bool:
        """Whether the trial is a Ray Train run (several workers, or forced) rather than a reused actor."""
        return runner == "train" or self.num_workers > 1

    @property
    def worker_cpus(self) -> float:
        if self.cpus_per_worker is not None:
            return self.cpus_per_worker
        return 1.0 if self.use_gpu else 1.0 - TRIAL_DRIVER_CPU / self.num_workers

    @property
    def torch_threads(self) -> int:
        """CPU threads per worker: as many as its CPUs, so workers never fight over cores."""
        return max(1, int(self.worker_cpus))

    def worker_request(self) -> dict[str, float]:
        """What one worker holds (Ray's resource names)."""
        worker = {"CPU": self.worker_cpus}
        if self.use_gpu:
            worker["GPU"] = min(self.gpus_per_trial, 1.0)
        return worker

    def actor_request(self, runner: Runner = "auto") -> dict[str, float]:
        """What the trial's Tune actor holds: the one worker's resources when it trains in the actor,
        only a waiting driver's CPU share when Ray Train's workers reserve their own."""
        if self.uses_train(runner):
            return {"CPU": TRIAL_DRIVER_CPU}
        return self.worker_request()

    def per_trial(self, runner: Runner = "auto") -> dict[str, float]:
        """All the resources of one running trial: its actor plus any Train workers."""
        if not self.uses_train(runner):
            return self.worker_request()
        need = {"CPU": TRIAL_DRIVER_CPU + self.num_workers * self.worker_cpus}
        if self.use_gpu:
            need["GPU"] = float(self.gpus_per_trial)
        return need

    def hours(self, seconds: float, runner: Runner = "auto") -> dict[str, float]:
        """GPU-hours and CPU-hours of a trial that held these resources for ``seconds``: the one rule that
        the leaderboard and MLflow both count by, each trial by its own resources (a space may choose them)."""
        need = self.per_trial(runner)
        return {key: seconds * need.get(name, 0.0) / 3600 for name, key in HOURS.items()}

    def max_concurrent(self, cluster: Mapping[str, float], runner: Runner = "auto") -> int:
        """Trials that fit at once; raises if not even one does (better now than a hang later)."""
        need = self.per_trial(runner)
        fits = {name: math.floor(cluster.get(name, 0.0) / amount + 1e-9) for name, amount in need.items()}
        if min(fits.values()) < 1:
            have = {name: cluster.get(name, 0.0) for name in need}
            raise ValueError(f"one trial needs {_shown(need)} but the Ray cluster has {_shown(have)}")
        return min(fits.values())


RESOURCE_KEYS: dict[str, Any] = {f.name: typing.get_type_hints(TrialResources)[f.name] for f in fields(TrialResources)}


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trial's config as (TrainConfig values, resource keys): a space may hold both."""
    train = {key: value for key, value in config.items() if key not in RESOURCE_KEYS}
    return train, {key: value for key, value in config.items() if key in RESOURCE_KEYS}


def _shown(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in resources.items())
