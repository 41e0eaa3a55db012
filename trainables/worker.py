"""What every Ray Train worker of a trial runs: the core ``train()`` with per-epoch reports.

The core does DDP and rank sharding itself, so nothing here calls ``prepare_model`` or
``prepare_data_loader``. Rank 0 attaches a checkpoint to each report; Ray Train keeps the best by
``val_cer`` and always the latest, from which a retried or resumed trial continues.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import ray.train
import torch
from ray.train import Checkpoint
from ray.train.torch import get_device

from trainables.resources import TrialResources
from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import EpochRecord, train


def worker_spec(config: dict[str, Any], data_dir: Path | str, resources: TrialResources, started: float) -> dict[str, Any]:
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
    corpus = load_corpus(spec["data_dir"], config)
    context = ray.train.get_context()
    timings = {
        "startup_seconds": entered - spec["trial_started"],
        "data_seconds": time.time() - entered,
        "world_size": context.get_world_size(),
    }
    is_rank_zero = context.get_world_rank() == 0
    device = get_device() if spec["torch_threads"] is None else torch.device("cpu")

    def on_epoch(record: EpochRecord, save_checkpoint: Callable[[Path], Path]) -> None:
        metrics = {**record.to_dict(), **timings}
        if not is_rank_zero:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            save_checkpoint(Path(directory))
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))

    checkpoint = ray.train.get_checkpoint()
    with checkpoint.as_directory() if checkpoint else nullcontext() as restored:
        resume_from = Path(restored) / CHECKPOINT_FILE if restored else None
        train(config, corpus, on_epoch=on_epoch, resume_from=resume_from, device=device, progress=False)
