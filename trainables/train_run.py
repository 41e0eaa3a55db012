"""A several-worker trial: a Ray Train ``TorchTrainer`` (DDP) run, driven one report at a time.

The Train run is named after the trial under a fixed storage folder, so a retried or resumed trial
continues its Train run from the latest checkpoint instead of starting over; the epochs that
checkpoint holds but Tune never recorded are reported again first (:meth:`TrainRun.replay_after`).
``fit()`` runs in a thread of the trial's actor, started by the first :meth:`TrainRun.next_result`
(after Tune has said what it recorded). Callbacks in Ray Train's controller actor put on a Ray queue
the controller's handle as it starts, a notice when the workers have started, and each epoch's report
(with ``checkpoint_path`` added).

Workers that do not start within :data:`START_TIMEOUT_ENV` seconds (default
:data:`DEFAULT_START_TIMEOUT_S`) end the run with :class:`TrainStartTimeout`, a one-line reason Tune
retries as any other failure: Ray Train itself retries a worker group that fails to start, or whose
resources never come, for ever. One way they never come: a controller that dies while it starts its
workers leaves their placement group behind for the rest of the search
(:func:`free_orphaned_placement_groups`, run before each Train run starts and after a kill).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray.train import CheckpointConfig, RunConfig, ScalingConfig, UserCallback
from ray.train.torch import TorchTrainer
from ray.train.v2._internal.execution.callback import ControllerCallback, WorkerGroupCallback
from ray.util.queue import Empty, Queue

from trainables.divergence import raise_if_diverged
from trainables.local_run import CHECKPOINTS_KEPT
from trainables.resources import TrialResources
from trainables.worker import train_loop_per_worker, worker_spec
from tune_asr.metrics import METRIC, MODE

POLL_SECONDS = 1.0
ABORT_WAIT_SECONDS = 60.0
START_TIMEOUT_ENV = "TUNE_ASR_TRAIN_START_TIMEOUT_S"
DEFAULT_START_TIMEOUT_S = 300.0  # a Train run's workers start in 5-25 s on a loaded 2-core machine
CONTROLLER, WORKERS, REPORT = "controller", "workers", "report"  # what the queue carries, in that order


class TrainStartTimeout(RuntimeError):
    """A Train run's workers did not start in time (their resources never came, or Ray lost them)."""


def scaling_config(resources: TrialResources) -> ScalingConfig:
    return ScalingConfig(num_workers=resources.num_workers, use_gpu=resources.use_gpu,
                         resources_per_worker=resources.worker_request())


def start_timeout_s() -> float:
    return float(os.environ.get(START_TIMEOUT_ENV, DEFAULT_START_TIMEOUT_S))


def free_orphaned_placement_groups() -> int:
    """Remove the placement groups whose creating actor is dead; returns how many.

    Ray removes an actor's placement group only once the actor *and* its job have ended, and Ray
    Train's cleaner learns of its controller's group only after the workers have started. A
    controller that dies while starting them (killed, or its trial's process gone) thus leaves a
    group holding its resources as long as the search runs, and every later Train run that needs
    them waits for ever. Groups that the driver created (Tune's, its creator is no actor) are kept.
    """
    from ray._private.state import state
    from ray.core.generated.gcs_pb2 import PlacementGroupTableData
    from ray.util.placement_group import PlacementGroup

    removed = 0
    for raw in state._connect_and_get_accessor().get_placement_group_table():
        group = PlacementGroupTableData.FromString(raw)
        creator = ray.ActorID(group.creator_actor_id)
        if (not creator.is_nil() and group.creator_actor_dead and not group.is_detached
                and group.state != PlacementGroupTableData.REMOVED):
            ray.util.remove_placement_group(PlacementGroup(ray.PlacementGroupID(group.placement_group_id)))
            removed += 1
    return removed


class _ForwardReports(UserCallback):
    """Runs in Train's controller actor: puts rank 0's metrics of each report on the trial's queue."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        report = dict(metrics[0])
        if checkpoint:
            report["checkpoint_path"] = checkpoint.path
        self.queue.put((REPORT, ray.get_runtime_context().current_actor, report))


class _ForwardStart(ControllerCallback, WorkerGroupCallback):
    """Runs in Train's controller actor: says that it started (with its handle, to stop it) and when
    its workers have started (Ray Train's developer API: user callbacks see neither)."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def after_controller_start(self, train_run_context: Any) -> None:
        self.queue.put((CONTROLLER, ray.get_runtime_context().current_actor, None))

    def after_worker_group_start(self, worker_group: Any) -> None:
        self.queue.put((WORKERS, ray.get_runtime_context().current_actor, None))


class TrainRun:
    """One trial's Train run; :meth:`next_result` starts it, then waits for its next epoch's report."""

    def __init__(self, config: dict[str, Any], data_dir: str, resources: TrialResources, train_storage: str,
                 run_name: str, strict: bool, started: float, verified_cache: str | None = None):
        self.run_dir = Path(train_storage) / run_name
        raise_if_diverged(self.run_dir)  # a retry of a diverged run ends before any worker starts
        self.spec = worker_spec(config, data_dir, resources, started, strict, str(self.run_dir), verified_cache)
        self.resources, self.train_storage, self.run_name = resources, train_storage, run_name
        self.start_timeout_s = start_timeout_s()
        self.queue: Queue | None = None
        self.thread: threading.Thread | None = None
        self.controller: Any = None
        self.launched = 0.0  # time.monotonic() when fit() began
        self.workers_started = False
        self.error: BaseException | None = None

    def replay_after(self, recorded_epoch: int) -> None:
        """Tune recorded this trial up to ``recorded_epoch``: the workers report the later epochs their
        checkpoint holds again before training on (call before the first :meth:`next_result`)."""
        self.spec["replay_after"] = recorded_epoch

    def _launch(self) -> None:
        free_orphaned_placement_groups()  # e.g. of this trial's last attempt, had its process died mid-start
        self.queue = Queue(actor_options={"num_cpus": 0})
        trainer = TorchTrainer(
            train_loop_per_worker,
            train_loop_config=self.spec,
            scaling_config=scaling_config(self.resources),
            run_config=RunConfig(
                name=self.run_name, storage_path=self.train_storage,
                callbacks=[_ForwardReports(self.queue), _ForwardStart(self.queue)],
                checkpoint_config=CheckpointConfig(
                    num_to_keep=CHECKPOINTS_KEPT, checkpoint_score_attribute=METRIC, checkpoint_score_order=MODE),
            ),
        )
        self.launched = time.monotonic()
        self.thread = threading.Thread(target=self._fit, args=(trainer,), name=f"train-{self.run_name}", daemon=True)
        self.thread.start()

    def _fit(self, trainer: TorchTrainer) -> None:
        try:
            trainer.fit()
        except BaseException as error:  # handed to the trial's actor by next_result
            self.error = error

    def next_result(self) -> dict[str, Any]:
        """The next report; raises the run's error, or its divergence, once it has ended without one,
        and :class:`TrainStartTimeout` when its workers do not start in time."""
        if self.thread is None:
            self._launch()
        while True:
            try:
                kind, self.controller, report = self.queue.get(timeout=POLL_SECONDS)
            except Empty:
                if self.thread.is_alive():
                    self._check_started()
                    continue
                if not self.queue.empty():
                    continue  # a last message arrived as the run ended
                if self.error is not None:
                    raise self.error
                raise_if_diverged(self.run_dir)
                raise RuntimeError(f"the Train run {self.run_name} ended without reporting its remaining epochs")
            if kind == REPORT:
                return report
            self.workers_started = self.workers_started or kind == WORKERS

    def _check_started(self) -> None:
        """Raise :class:`TrainStartTimeout` once the workers are overdue (:meth:`close` then stops the run)."""
        if self.workers_started or time.monotonic() - self.launched < self.start_timeout_s:
            return
        raise TrainStartTimeout(
            f"the Train run {self.run_name}: its {self.resources.num_workers} workers did not start within "
            f"{self.start_timeout_s:g} s ({START_TIMEOUT_ENV} sets the limit)")

    def close(self) -> None:
        """Stop a run still going (ASHA stopped the trial, or its workers never started) and wait until it has ended."""
        if self.thread is None:
            return
        killed = self.thread.is_alive() and self._stop()
        self.thread.join(timeout=ABORT_WAIT_SECONDS)  # ends once Ray knows the controller is gone
        if killed:
            free_orphaned_placement_groups()
        self.queue.shutdown()

    def _stop(self) -> bool:
        """Abort a run whose workers run (ASHA stopped the trial): the controller frees them and their
        placement group. Kill a controller still starting its workers, which answers nothing until that
        start ends (perhaps never), or one that does not answer. Returns whether it was killed."""
        while self.controller is None or not self.queue.empty():  # what it said so far; its first message names it
            try:
                kind, self.controller, _ = self.queue.get(timeout=ABORT_WAIT_SECONDS)
            except Empty:
                return False  # it never came up: it ends with this trial's process, which owns it
            self.workers_started = self.workers_started or kind == WORKERS
        if self.workers_started:
            try:
                ray.get(self.controller.abort.remote(), timeout=ABORT_WAIT_SECONDS)
                return False
            except ray.exceptions.GetTimeoutError:
                pass
            except ray.exceptions.RayError:
                return False  # the controller is gone already (abort ends it)
        ray.kill(self.controller, no_restart=True)
        return True
