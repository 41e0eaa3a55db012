"""What every Ray Train worker of a several-worker trial runs: the core's ``Trainer`` with per-epoch reports.

The core does DDP and rank sharding itself, so nothing here calls ``prepare_model`` or
``prepare_data_loader``. Rank 0 attaches a checkpoint to each report; Ray Train keeps the best by
``val_cer`` and always the latest, from which a retried or resumed trial continues, reporting again
the epochs it restored that Tune never recorded (as a one-worker trial does: ``local_run.unrecorded``)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import ray.train
import torch
from ray.train import Checkpoint
from ray.train.torch import get_device

import trainables
from trainables.divergence import diverged_report, record_divergence
from trainables.faults import Faults, faults_for
from trainables.local_run import unrecorded
from trainables.resources import TrialResources
from tune_asr.checkpoint import load_checkpoint, save_checkpoint
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import EpochRecord, Trainer, TrainingDiverged

SNAPSHOT_FILE = "checkpoint_manager_snapshot.json"  # Ray Train's record of registered checkpoints


def worker_spec(
    config: dict[str, Any], data_dir: Path | str, resources: TrialResources, started: float, strict: bool = False,
    run_dir: str | None = None, verified_cache: str | None = None,
) -> dict[str, Any]:
    """The ``train_loop_config`` of a ``TorchTrainer`` running :func:`train_loop_per_worker`.

    ``started`` is the wall-clock time the caller began (``time.time()``), from which the workers
    measure start-up. Call it on the driver: a relative ``data_dir`` is resolved against the
    current folder, and Ray runs workers in other folders.
    """
    return {
        "config": config,
        "data_dir": str(Path(data_dir).resolve()),
        "torch_threads": None if resources.use_gpu else resources.torch_threads,
        "trial_started": started,
        "strict": strict,
        "run_dir": run_dir,  # the Train run's folder (shared storage): where a divergence is recorded
        "verified_cache": verified_cache,  # the corpus cache the search driver found up to date
        "replay_after": 0,  # the last epoch Tune recorded: the restored epochs after it are reported again
    }


def train_loop_per_worker(spec: dict[str, Any]) -> None:
    """Train ``spec["config"]`` on ``spec["data_dir"]``, reporting each epoch to Ray Train.

    ``spec`` (see :func:`worker_spec`) also holds ``torch_threads`` (CPU threads per worker, None
    on GPU) and ``trial_started`` (wall-clock time the trial began), so that every report carries
    how long Ray took to get here (``startup_seconds``), how long the data took to load
    (``data_seconds``) and the number of workers (``world_size``).
    """
    entered = time.time()
    if spec["torch_threads"] is not None:
        torch.set_num_threads(spec["torch_threads"])
    config = TrainConfig.from_dict(spec["config"])
    context = ray.train.get_context()
    is_rank_zero = context.get_world_rank() == 0
    run_dir = Path(spec["run_dir"]) if spec.get("run_dir") else None
    faults = faults_for(context.get_experiment_name(), lambda epoch: _wait_until_registered(run_dir, epoch)) if is_rank_zero else None
    if faults:
        faults.at_start()
    corpus = load_corpus(spec["data_dir"], config, strict=spec.get("strict", False), verified_cache=spec.get("verified_cache"))
    timings = {
        "trial_started": spec["trial_started"],
        "startup_seconds": entered - spec["trial_started"],
        "spawn_seconds": trainables.IMPORT_STARTED - spec["trial_started"],  # of startup: until the worker process imports us
        "data_seconds": time.time() - entered,
        "world_size": context.get_world_size(),
        "utterances": len(corpus.train) + len(corpus.val),  # what the data check kept
        "node_id": ray.get_runtime_context().get_node_id(),  # which node of a cluster trained it
    }
    device = get_device() if spec["torch_threads"] is None else torch.device("cpu")
    trainer = Trainer(config, corpus, device)
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as restored:
            trainer.restore(load_checkpoint(Path(restored)))
    # The epoch this attempt resumed after (0: started afresh), so a restart's continuity shows in the results.
    timings["resumed_after_epoch"] = trainer.history[-1].epoch if trainer.history else 0
    kept = _registered(run_dir) if is_rank_zero and run_dir else {}

    def report(record: EpochRecord, replayed: bool) -> None:
        metrics = {**record.to_dict(), **timings}
        if not is_rank_zero:
            ray.train.report(metrics)
        elif replayed:  # Ray Train holds its checkpoint already, if it still keeps it: name it, register no copy
            ray.train.report({**metrics, **({"checkpoint_path": kept[record.epoch]} if record.epoch in kept else {})})
        else:
            with tempfile.TemporaryDirectory() as directory:
                save_checkpoint(Path(directory), trainer.state())
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))

    try:
        report_epochs(trainer, spec["replay_after"], report, faults)
    except TrainingDiverged as error:
        # Every rank sees the same all-reduced loss, so all of them report this last result; the
        # trial then fails without a retry (see trainables.divergence).
        if is_rank_zero and run_dir:
            record_divergence(run_dir, error)
        ray.train.report(diverged_report(error, timings))


def report_epochs(trainer: Trainer, recorded_epoch: int, report: Callable[[EpochRecord, bool], None],
                  faults: Faults | None = None) -> None:
    """Report again the restored epochs Tune never recorded (``report(record, True)``: not trained
    again), then train the remaining epochs, reporting each (``report(record, False)``). Ray-free:
    ``report`` is what talks to Ray Train; every rank runs the same reports."""
    for record in unrecorded(trainer.history, recorded_epoch):
        report(record, True)
    for record in trainer.epochs(progress=False):
        if faults:
            faults.at_epoch_end(record.epoch)
        report(record, False)


def _registered(run_dir: Path) -> dict[int, str]:
    """Epoch -> folder of each checkpoint Ray Train keeps for this run, from its snapshot ({} if none yet)."""
    try:
        snapshot = json.loads((run_dir / SNAPSHOT_FILE).read_text(encoding="utf-8"))
        results = [*snapshot["checkpoint_results"], snapshot["latest_checkpoint_result"]]
        return {int(r["metrics"]["epoch"]): str(run_dir / r["checkpoint_dir_name"]) for r in results if r}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _wait_until_registered(run_dir: Path | None, epoch: int, timeout: float = 60.0) -> None:
    """Until Ray Train has registered epoch ``epoch``'s checkpoint: ``report`` returns before the
    controller has taken the report in, and a worker dying in between loses that report."""
    if run_dir is None:
        return
    deadline = time.time() + timeout
    while time.time() < deadline and max(_registered(run_dir), default=0) < epoch:
        time.sleep(0.2)
