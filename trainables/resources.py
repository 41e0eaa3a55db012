"""How much of the cluster one trial takes, and so how many trials run at once.

Tune only sees each trial's driver (a function that waits on its Train run); the Train workers
reserve their own placement group. Tune therefore cannot pace trials by itself: a trial it starts
without room for its workers waits, times out after 60 s and retries (ray-project/ray#54305).
``max_concurrent`` does the pacing instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ray.train import ScalingConfig

TRIAL_DRIVER_CPU = 0.1  # Tune rejects 0; the driver only waits on its Train run


@dataclass(frozen=True)
class TrialResources:
    """One trial's workers, from ``--gpus-per-trial``, ``--workers-per-trial``, ``--cpus-per-worker``.

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

    @property
    def use_gpu(self) -> bool:
        return self.gpus_per_trial > 0

    @property
    def num_workers(self) -> int:
        return int(self.gpus_per_trial) if self.gpus_per_trial >= 1 else self.workers_per_trial

    @property
    def worker_cpus(self) -> float:
        if self.cpus_per_worker is not None:
            return self.cpus_per_worker
        return 1.0 if self.use_gpu else 1.0 - TRIAL_DRIVER_CPU / self.num_workers

    @property
    def torch_threads(self) -> int:
        """CPU threads per worker: as many as its CPUs, so workers never fight over cores."""
        return max(1, int(self.worker_cpus))

    def scaling_config(self) -> ScalingConfig:
        worker = {"CPU": self.worker_cpus}
        if self.use_gpu:
            worker["GPU"] = min(self.gpus_per_trial, 1.0)
        return ScalingConfig(num_workers=self.num_workers, use_gpu=self.use_gpu, resources_per_worker=worker)

    def per_trial(self) -> dict[str, float]:
        """All the resources of one running trial: its driver plus its workers."""
        need = {"CPU": TRIAL_DRIVER_CPU + self.num_workers * self.worker_cpus}
        if self.use_gpu:
            need["GPU"] = float(self.gpus_per_trial)
        return need

    def max_concurrent(self, cluster: Mapping[str, float]) -> int:
        """Trials that fit at once; raises if not even one does (better now than a hang later)."""
        fits = {name: math.floor(cluster.get(name, 0.0) / amount + 1e-9) for name, amount in self.per_trial().items()}
        if min(fits.values()) < 1:
            have = {name: cluster.get(name, 0.0) for name in fits}
            raise ValueError(f"one trial needs {self.per_trial()} but the Ray cluster has {have}")
        return min(fits.values())
