"""The Tune function of one trial: a Ray Train ``TorchTrainer`` run named after the trial.

Naming the Train run after the trial id, under a fixed storage folder, is what makes a retried or
restored trial resume its Train run from the latest checkpoint instead of starting over. Tune
gets each epoch's metrics through ``TuneReportCallback`` (with ``checkpoint_path`` added), never
the checkpoint itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray import tune
from ray.train import CheckpointConfig, RunConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from trainables.resources import TRIAL_DRIVER_CPU, TrialResources
from trainables.worker import DIVERGED_FILE, train_loop_per_worker, worker_spec
from tune_asr.config import TrainConfig
from tune_asr.metrics import METRIC
from tune_asr.training import TrainingDiverged

MODE = "min"  # of METRIC, the validation CER
CHECKPOINTS_KEPT = 2  # per trial, best by val_cer (the latest is kept as well, for resuming)


def run_trial(config: dict[str, Any], *, data_dir: str, resources: TrialResources, train_storage: str, strict: bool = False) -> None:
    """Run one configuration on ``resources``; Tune sees one report per epoch.

    A diverged run (NaN or infinite loss) ends its workers cleanly with a last report holding
    ``diverged=1`` and leaves ``DIVERGED_FILE`` in its run folder; the trial then fails here with
    :class:`TrainingDiverged`, and :class:`NoRetryOnDivergence` has already told Tune not to retry
    it (were it retried anyway, the file ends the retry at once, before any worker starts).
    """
    started = time.time()
    TrainConfig.from_dict(config)  # a bad combination fails here, before any worker starts
    run_name = tune.get_context().get_trial_id()
    diverged = Path(train_storage) / run_name / DIVERGED_FILE
    if diverged.is_file():
        raise TrainingDiverged(diverged.read_text(encoding="utf-8"))
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=worker_spec(config, data_dir, resources, started, strict, str(diverged.parent)),
        scaling_config=resources.scaling_config(),
        run_config=RunConfig(
            name=run_name,
            storage_path=train_storage,
            callbacks=[TuneReportCallback()],
            checkpoint_config=CheckpointConfig(
                num_to_keep=CHECKPOINTS_KEPT, checkpoint_score_attribute=METRIC, checkpoint_score_order=MODE
            ),
        ),
    )
    trainer.fit()
    if diverged.is_file():  # Result.metrics holds the last checkpoint's metrics only, so the worker leaves a file
        raise TrainingDiverged(diverged.read_text(encoding="utf-8"))


class NoRetryOnDivergence(tune.Callback):
    """Divergence is deterministic: a trial that reports ``diverged`` gets no retry from ``FailureConfig``.

    The report reaches Tune before the trial's error does (the trial function raises only after its
    Train run has returned), so the trial's own retry budget can be spent here.
    """

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        if result.get("diverged"):
            trial.max_failures = 0


def make_trainable(data_dir: Path | str, resources: TrialResources, train_storage: Path | str, strict: bool = False):
    """The trainable to give ``ray.tune.Tuner`` (and ``Tuner.restore``); its config holds TrainConfig values.

    Both paths are made absolute here, on the driver: Ray runs trials in other directories.
    """
    fn = tune.with_parameters(
        run_trial,
        data_dir=str(Path(data_dir).resolve()),
        resources=resources,
        train_storage=str(Path(train_storage).resolve()),
        strict=strict,
    )
    return tune.with_resources(fn, {"cpu": TRIAL_DRIVER_CPU})
