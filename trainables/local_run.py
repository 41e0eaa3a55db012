"""A one-worker trial trained inside its (reused) Tune actor, one epoch per call.

What a process already has stays for the next trial it serves: torch, the CUDA context and the
loaded corpus (kept per data folder and :data:`tune_asr.config.DATA_FIELDS`). Each epoch writes
the core's own checkpoint (``checkpoint.pt``) under the trial's run folder and reports its path,
exactly as a Ray Train run does, so results, MLflow and ``export-best`` read both alike. A retried
or resumed trial continues from the latest of those files, as a Train run continues from its own
storage. Epochs that file holds but the driver never recorded (it died between the two) are
reported again before training goes on: :meth:`LocalRun.replay_after`.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

import torch

from trainables.faults import Faults
from trainables.resources import TrialResources
from tune_asr.best_checkpoint import ranked
from tune_asr.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from tune_asr.config import DATA_FIELDS, TrainConfig
from tune_asr.data.corpus import Corpus, load_corpus
from tune_asr.training import EpochRecord, Trainer, default_device

CHECKPOINTS_KEPT = 2  # per trial, best by val_cer; the latest is kept as well, for resuming
CORPORA_KEPT = 2  # loaded corpora a process keeps (a space may search a data field such as the unit)
_corpora: OrderedDict[tuple, Corpus] = OrderedDict()


def shared_corpus(data_dir: str, config: TrainConfig, strict: bool, verified_cache: str | None = None) -> Corpus:
    """The corpus for ``config``, loaded once per process and data-defining fields."""
    key = (data_dir, strict, *(getattr(config, field) for field in DATA_FIELDS))
    if key in _corpora:
        _corpora.move_to_end(key)
        return _corpora[key]
    corpus = load_corpus(data_dir, config, strict=strict, verified_cache=verified_cache)
    _corpora[key] = corpus
    while len(_corpora) > CORPORA_KEPT:
        _corpora.popitem(last=False)
    return corpus


def checkpoint_dir(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"checkpoint_epoch_{epoch:04d}"


def unrecorded(history: list[EpochRecord], recorded_epoch: int) -> list[EpochRecord]:
    """The restored epochs after the last one Tune recorded (``recorded_epoch``; 0: none). A resumed trial
    reports them again, untrained, before training on: the driver died between their checkpoint and
    their report. Both runners use it (:class:`LocalRun`, ``trainables.worker``)."""
    return [record for record in history if record.epoch > recorded_epoch]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint of the trial's latest saved epoch, if it saved any (written whole, then renamed)."""
    saved = sorted(run_dir.glob(f"checkpoint_epoch_*/{CHECKPOINT_FILE}"))
    return saved[-1] if saved else None


class LocalRun:
    """Model, optimiser and schedule of one trial in this process; :meth:`next_result` trains an epoch."""

    def __init__(self, config: TrainConfig, data_dir: str, resources: TrialResources, run_dir: Path,
                 strict: bool, started: float, faults: Faults | None, verified_cache: str | None = None):
        entered = time.time()
        self.run_dir, self.faults = run_dir, faults
        if faults:
            faults.at_start()
        if resources.use_gpu:
            device = default_device()
        else:
            device = torch.device("cpu")
            torch.set_num_threads(resources.torch_threads)
        corpus = shared_corpus(data_dir, config, strict, verified_cache)
        loaded = time.time()
        self.trainer = Trainer(config, corpus, device)
        self.started = started
        self.timings: dict[str, Any] = {
            "trial_started": started,  # unix time: a fresh process's first import, or the reuse
            "spawn_seconds": entered - started,  # 0 in a reused process
            "data_seconds": loaded - entered,
            "world_size": 1,
            "utterances": len(corpus.train) + len(corpus.val),
            "resumed_after_epoch": 0,
        }
        latest = latest_checkpoint(run_dir)
        if latest is not None:  # a retry, or a resumed search: continue where this trial's files end
            self.trainer.restore(load_checkpoint(latest))
            self.timings["resumed_after_epoch"] = self.trainer.history[-1].epoch
        self.replays: deque[EpochRecord] = deque(unrecorded(self.trainer.history, 0))  # until Tune says what it recorded
        self.epochs = self.trainer.epochs(progress=False)

    def replay_after(self, recorded_epoch: int) -> None:
        """Tune recorded this trial up to ``recorded_epoch``: report the later restored epochs again first."""
        self.replays = deque(unrecorded(self.trainer.history, recorded_epoch))

    def next_result(self) -> dict[str, Any]:
        """Train one epoch, save its checkpoint, and return the epoch's report.

        A diverged epoch (NaN or infinite loss) raises :class:`TrainingDiverged` from the core.
        """
        if self.replays:
            return self._report(self.replays.popleft())
        if "startup_seconds" not in self.timings:  # from the trial's start to its first training step
            self.timings["startup_seconds"] = time.time() - self.started
        record = next(self.epochs)
        if self.faults:
            self.faults.at_epoch_end(record.epoch)
        save_checkpoint(checkpoint_dir(self.run_dir, record.epoch), self.trainer.state())
        self._drop_old_checkpoints()
        return self._report(record)

    def _report(self, record: EpochRecord) -> dict[str, Any]:
        return {**record.to_dict(), **self.timings, "checkpoint_path": str(checkpoint_dir(self.run_dir, record.epoch)),
                **_memory()}

    def _drop_old_checkpoints(self) -> None:
        """Keep the best :data:`CHECKPOINTS_KEPT` epochs by val_cer (the latest of ties) and the latest."""
        history = self.trainer.history
        best_first = ranked([record.to_dict() for record in history])
        keep = {report["epoch"] for report in best_first[:CHECKPOINTS_KEPT]} | {history[-1].epoch}
        for record in history:
            if record.epoch not in keep:
                shutil.rmtree(checkpoint_dir(self.run_dir, record.epoch), ignore_errors=True)

    def close(self) -> None:
        """Free the model and optimiser (the process lives on for the next trial)."""
        self.epochs.close()
        del self.trainer, self.epochs
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _memory() -> dict[str, float]:
    """This process's resident and CUDA memory: reused processes must not grow trial after trial."""
    import psutil

    memory = {"rss_mb": psutil.Process().memory_info().rss / 2**20}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        memory["cuda_mb"] = torch.cuda.memory_allocated() / 2**20
    return memory
