"""A one-worker trial's run in its reused process (trainables.local_run), without Ray."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from tests.helpers import SENTENCES, tiny_space, write_nsml
from trainables.local_run import LocalRun, checkpoint_dir
from trainables.resources import TrialResources
from tune_asr.config import TrainConfig


def _config(epochs: int) -> TrainConfig:
    values = yaml.safe_load(tiny_space("1.0e-2", epochs=epochs))
    return TrainConfig.from_dict(values)


def _run(data: Path, run_dir: Path, epochs: int) -> LocalRun:
    return LocalRun(_config(epochs), str(data), TrialResources(cpus_per_worker=1), run_dir, strict=False,
                    started=time.time(), faults=None)


def test_restored_epochs_tune_never_recorded_are_reported_again_before_training(tmp_path: Path) -> None:
    data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)])
    run_dir = tmp_path / "run"
    first = _run(data, run_dir, epochs=3)
    reports = [first.next_result(), first.next_result()]  # epoch 2's file is written; say the driver died then
    first.close()
    assert checkpoint_dir(run_dir, 2).exists()

    resumed = _run(data, run_dir, epochs=3)
    resumed.replay_after(1)  # Tune's own checkpoint says it recorded epoch 1 only
    replayed = resumed.next_result()
    assert replayed["epoch"] == 2 and replayed["val_cer"] == reports[1]["val_cer"]  # not trained again
    assert replayed["resumed_after_epoch"] == 2 and "startup_seconds" not in replayed
    assert resumed.next_result()["epoch"] == 3
    resumed.close()

    restarted = _run(data, run_dir, epochs=3)  # no Tune checkpoint at all: every restored epoch is said again
    assert [restarted.next_result()["epoch"] for _ in range(3)] == [1, 2, 3]
    restarted.close()
