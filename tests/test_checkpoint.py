import os
import pickle
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch

from tune_asr.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import Trainer

TINY = TrainConfig(n_mels=40, conv_channels=4, rnn_hidden=16, rnn_layers=1, batch_size=4, epochs=1, schedule="one_cycle")


class RunsAShellCommand:
    """What a hostile "checkpoint" carries: unpickling it calls os.system."""

    def __init__(self, marker: Path):
        self.command = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (self.command,)


def assert_same(loaded: Any, saved: Any) -> None:
    assert type(loaded) is type(saved)
    if isinstance(saved, torch.Tensor):
        assert torch.equal(loaded, saved)
    elif isinstance(saved, dict):
        assert loaded.keys() == saved.keys()
        for key in saved:
            assert_same(loaded[key], saved[key])
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved)
        for item_loaded, item_saved in zip(loaded, saved):
            assert_same(item_loaded, item_saved)
    else:
        assert loaded == saved


def test_a_trained_runs_checkpoint_loads_back_whole_and_resumes(nsml_dir: Path, tmp_path: Path) -> None:
    corpus = load_corpus(nsml_dir, TINY)
    trainer = Trainer(TINY, corpus, torch.device("cpu"))
    next(trainer.epochs(progress=False))
    saved = trainer.state()
    assert saved["optimizer"]["state"], "one epoch leaves Adam moments to save"

    loaded = load_checkpoint(save_checkpoint(tmp_path / "run", saved))
    assert_same(loaded, saved)
    Trainer(TINY, corpus, torch.device("cpu")).restore(loaded)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the plain pickle before refusing it
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(writer: str, tmp_path: Path) -> None:
    marker = tmp_path / "the-payload-ran"
    hostile = {"model": RunsAShellCommand(marker), "config": TINY.to_dict(), "vocab": {}}
    path = tmp_path / "checkpoint.pt"
    if writer == "torch.save":
        torch.save(hostile, path)
    else:
        path.write_bytes(pickle.dumps(hostile))

    with pytest.raises(CheckpointError, match=f"^{path}: refused to load") as refused:
        load_checkpoint(tmp_path)
    assert not marker.exists()
    assert "weights_only" not in str(refused.value)  # torch's advice to load it unsafely is not passed on
    if writer == "torch.save":
        assert f"{os.system.__module__}.system" in str(refused.value)


def test_a_file_that_is_no_checkpoint_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=f"^{path}: "):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=f"^{path}: not a tune-asr checkpoint \\(no model, config, vocab\\)"):
        load_checkpoint(path)
