"""A several-worker trial's epochs (trainables.worker.report_epochs), without Ray: what a resumed Train
run reports when the driver died between an epoch's checkpoint and its report."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from tests.helpers import SENTENCES, tiny_space, write_nsml
from trainables.worker import report_epochs
from tune_asr.checkpoint import load_checkpoint, save_checkpoint
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import EpochRecord, Trainer


class DriverKilled(Exception):
    """Ends the first attempt where the driver died: epoch 2's checkpoint is saved, its report never recorded."""


def test_a_resumed_train_run_reports_the_checkpointed_epochs_the_driver_never_recorded(tmp_path: Path) -> None:
    config = TrainConfig.from_dict(yaml.safe_load(tiny_space("1.0e-2", epochs=3)))
    corpus = load_corpus(write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)]), config)
    storage = tmp_path / "train_run"  # stands in for Ray Train's storage: one checkpoint folder per reported epoch
    recorded: list[EpochRecord] = []  # what the driver recorded

    def first_attempt(trainer: Trainer):
        def report(record: EpochRecord, replayed: bool) -> None:
            assert not replayed
            save_checkpoint(storage / f"epoch_{record.epoch}", trainer.state())  # Ray Train registered it ...
            if record.epoch == 2:
                raise DriverKilled  # ... and the driver died before it recorded the report
            recorded.append(record)
        return report

    first = Trainer(config, corpus, torch.device("cpu"))
    try:
        report_epochs(first, 0, first_attempt(first))
    except DriverKilled:
        pass
    assert [r.epoch for r in recorded] == [1] and (storage / "epoch_2").is_dir()
    checkpointed = load_checkpoint(storage / "epoch_2")["history"][-1]

    resumed = Trainer(config, corpus, torch.device("cpu"))
    resumed.restore(load_checkpoint(storage / "epoch_2"))  # Ray Train's latest checkpoint
    reports: list[tuple[EpochRecord, bool]] = []
    report_epochs(resumed, recorded[-1].epoch, lambda record, replayed: reports.append((record, replayed)))
    assert [(r.epoch, replayed) for r, replayed in reports] == [(2, True), (3, False)]
    assert reports[0][0].to_dict() == checkpointed  # epoch 2 reported as trained before, not trained again

    restarted = Trainer(config, corpus, torch.device("cpu"))  # Tune recorded nothing: every restored epoch again
    restarted.restore(load_checkpoint(storage / "epoch_2"))
    again: list[int] = []
    report_epochs(restarted, 0, lambda record, replayed: again.append(record.epoch) if replayed else None)
    assert again == [1, 2]
