"""The Tune trainable of every trial: one class, two runners chosen by the trial's resources.

A one-worker trial (CPU, a fraction of a GPU, one GPU) trains inside this actor
(:class:`~trainables.local_run.LocalRun`), one epoch per ``step``; with ``reuse_actors`` the
process then serves the next trial, keeping torch, the CUDA context and the loaded corpus, so a
trial starts in about a second instead of paying a fresh process and Ray Train's start-up. A
several-worker trial is a Ray Train DDP run (:class:`~trainables.train_run.TrainRun`), where that
cost buys the workers. Both report the same metrics and write the same checkpoint format.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune

import trainables

from trainables.divergence import diverged_report, raise_if_diverged, record_divergence
from trainables.faults import faults_for
from trainables.local_run import LocalRun
from trainables.resources import Runner, TrialResources, split_config
from trainables.train_run import TrainRun
from tune_asr.config import TrainConfig
from tune_asr.metrics import rung_figures
from tune_asr.training import TrainingDiverged


class AsrTrial(tune.Trainable):
    """One configuration per trial; ``step`` returns one epoch's report (``done`` after the last epoch)."""

    def setup(self, config: dict[str, Any], *, data_dir: str, resources: TrialResources, train_storage: str,
              strict: bool = False, runner: Runner = "auto", corpus_cache: str | None = None) -> None:
        self.data_dir, self.resources, self.train_storage = data_dir, resources, train_storage
        self.strict, self.runner, self.corpus_cache = strict, runner, corpus_cache
        self.trials_served, self.run = 0, None
        self._take(config, started=trainables.IMPORT_STARTED)  # a fresh process: its imports count

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Serve the next trial in this process (``reuse_actors``): drop the last trial's run, keep the rest."""
        self._close()
        self._take(new_config, started=time.time())
        return True

    def _take(self, config: dict[str, Any], started: float) -> None:
        """Hold the trial's config; its run starts when it first trains or restores (:meth:`_ensure_run`).

        Tune constructs a new actor for a pending trial, and when a cached actor frees up first it gives
        the trial to that one and removes the new actor (``TuneController._maybe_reuse_cached_actor``):
        a run started in ``setup`` would load data for nothing, or start a whole Ray Train run of a
        trial that runs elsewhere.
        """
        self.pending = (config, started)
        self.reported_epoch = 0

    def _ensure_run(self) -> None:
        if self.run is None:
            self._start(*self.pending)

    def _start(self, config: dict[str, Any], started: float) -> None:
        values, _ = split_config(config)
        train_config = TrainConfig.from_dict(values)  # a bad combination fails here, before any training
        self.epochs = train_config.epochs
        self.diverged: TrainingDiverged | None = None
        self.run_dir = Path(self.train_storage) / self.trial_id
        resources = self.resources.for_config(config)
        self.trials_served += 1
        self.extra = {"reused_process": int(self.trials_served > 1), "node_id": ray.get_runtime_context().get_node_id()}
        if resources.uses_train(self.runner):
            self.run: LocalRun | TrainRun = TrainRun(values, self.data_dir, resources, self.train_storage,
                                                      self.trial_id, self.strict, started, self.corpus_cache)
        else:
            raise_if_diverged(self.run_dir)
            self.run = LocalRun(train_config, self.data_dir, resources, self.run_dir, self.strict, started,
                                faults_for(self.trial_id), self.corpus_cache)

    def step(self) -> dict[str, Any]:
        self._ensure_run()
        if self.diverged is not None:  # the diverged report went out last step: now the trial fails
            raise self.diverged
        try:
            result = {**self.run.next_result(), **self.extra, "reported_at": time.time(), "pid": os.getpid()}
        except TrainingDiverged as error:  # only a LocalRun raises it; a Train run reports it itself
            record_divergence(self.run_dir, error)
            self.diverged = error
            return {**diverged_report(error, self.run.timings), **self.extra}
        if result.get("diverged"):
            self.diverged = TrainingDiverged(result.get("diverged_reason", "diverged"), result.get("epoch", 0))
            return result
        result.update(rung_figures(result))  # the composite a scheduler may decide on (tune_asr.metrics)
        result["done"] = result["epoch"] >= self.epochs
        self.reported_epoch = result["epoch"]
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        """Tune takes one after every result (``checkpoint_frequency=1``), so its saved state names the
        last epoch it recorded. The run's own files hold the weights."""
        return {"trial_id": self.trial_id, "epoch": self.reported_epoch}

    def load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The run continues from its own latest checkpoint; it reports first what Tune had not recorded."""
        self._ensure_run()
        self.run.replay_after(checkpoint.get("epoch", 0))

    def cleanup(self) -> None:
        self._close()

    def _close(self) -> None:
        if getattr(self, "run", None) is not None:
            self.run.close()
            self.run = None


def make_trainable(data_dir: Path | str, resources: TrialResources, train_storage: Path | str, strict: bool = False,
                   runner: Runner = "auto", corpus_cache: Path | None = None):
    """The trainable to give ``ray.tune.Tuner`` (and ``Tuner.restore``); its config holds TrainConfig values
    and optionally per-trial resource keys (``gpus_per_trial`` ...), which decide each trial's actor.
    ``corpus_cache``: the corpus cache the driver found up to date, which trials map as it is.

    Both paths are made absolute here, on the driver: Ray runs trials in other directories.
    """
    trainable = tune.with_parameters(
        AsrTrial, data_dir=str(Path(data_dir).resolve()), resources=resources,
        train_storage=str(Path(train_storage).resolve()), strict=strict, runner=runner,
        corpus_cache=str(corpus_cache) if corpus_cache else None,
    )
    return tune.with_resources(trainable, lambda config: _lowercase(resources.for_config(config).actor_request(runner)))


def _lowercase(request: dict[str, float]) -> dict[str, float]:
    """Tune's ``with_resources`` spells CPU and GPU in lower case."""
    return {name.lower(): amount for name, amount in request.items()}
