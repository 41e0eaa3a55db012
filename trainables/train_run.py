"""A several-worker trial: a Ray Train ``TorchTrainer`` (DDP) run, driven one report at a time.

The Train run is named after the trial under a fixed storage folder, so a retried or resumed trial
continues its Train run from the latest checkpoint instead of starting over. ``fit()`` runs in a
thread of the trial's actor; a Train callback, which runs in Ray Train's controller actor, forwards
each epoch's report (with ``checkpoint_path`` added) through a Ray queue to :meth:`next_result`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import ray
from ray.train import CheckpointConfig, RunConfig, ScalingConfig, UserCallback
from ray.train.torch import TorchTrainer
from ray.util.queue import Empty, Queue

from trainables.divergence import raise_if_diverged
from trainables.local_run import CHECKPOINTS_KEPT
from trainables.resources import TrialResources
from trainables.worker import train_loop_per_worker, worker_spec
from tune_asr.metrics import METRIC, MODE

POLL_SECONDS = 1.0
ABORT_WAIT_SECONDS = 60.0


def scaling_config(resources: TrialResources) -> ScalingConfig:
    return ScalingConfig(num_workers=resources.num_workers, use_gpu=resources.use_gpu,
                         resources_per_worker=resources.worker_request())


class _ForwardReports(UserCallback):
    """Runs in Train's controller actor: puts (controller handle, rank 0's metrics) on the trial's queue."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        report = dict(metrics[0])
        if checkpoint:
            report["checkpoint_path"] = checkpoint.path
        self.queue.put((ray.get_runtime_context().current_actor, report))


class TrainRun:
    """One trial's Train run; :meth:`next_result` waits for its next epoch's report."""

    def __init__(self, config: dict[str, Any], data_dir: str, resources: TrialResources, train_storage: str,
                 run_name: str, strict: bool, started: float, verified_cache: str | None = None):
        self.run_dir = Path(train_storage) / run_name
        raise_if_diverged(self.run_dir)  # a retry of a diverged run ends before any worker starts
        self.queue = Queue(actor_options={"num_cpus": 0})
        self.controller: Any = None
        self.error: BaseException | None = None
        trainer = TorchTrainer(
            train_loop_per_worker,
            train_loop_config=worker_spec(config, data_dir, resources, started, strict, str(self.run_dir), verified_cache),
            scaling_config=scaling_config(resources),
            run_config=RunConfig(
                name=run_name, storage_path=train_storage, callbacks=[_ForwardReports(self.queue)],
                checkpoint_config=CheckpointConfig(
                    num_to_keep=CHECKPOINTS_KEPT, checkpoint_score_attribute=METRIC, checkpoint_score_order=MODE),
            ),
        )
        self.thread = threading.Thread(target=self._fit, args=(trainer,), name=f"train-{run_name}", daemon=True)
        self.thread.start()

    def _fit(self, trainer: TorchTrainer) -> None:
        try:
            trainer.fit()
        except BaseException as error:  # handed to the trial's actor by next_result
            self.error = error

    def next_result(self) -> dict[str, Any]:
        """The next report; raises the run's error, or its divergence, once it has ended without one."""
        while True:
            try:
                self.controller, report = self.queue.get(timeout=POLL_SECONDS)
                return report
            except Empty:
                if self.thread.is_alive():
                    continue
            if not self.queue.empty():
                continue
            if self.error is not None:
                raise self.error
            raise_if_diverged(self.run_dir)
            raise RuntimeError(f"the Train run {self.run_dir.name} ended without reporting its remaining epochs")

    def close(self) -> None:
        """Abort a run still going (ASHA stopped the trial) and wait until its workers are gone."""
        if self.thread.is_alive() and self.controller is not None:
            try:
                ray.get(self.controller.abort.remote(), timeout=ABORT_WAIT_SECONDS)
            except (ray.exceptions.RayError, TimeoutError):
                pass  # the controller is gone already
        self.thread.join(timeout=ABORT_WAIT_SECONDS)
        self.queue.shutdown()
