"""Checkpoints that hold everything needed to resume exactly or to run inference alone.

A checkpoint holds only dicts, lists, tuples, numbers, strings, None and tensors (the config, the
vocabulary, the history and the model's, optimiser's and scheduler's state dicts). All of these are
on torch's own ``weights_only`` allow-list, so loading adds nothing to it: a file that would rebuild
any other Python object (and so could run code, e.g. one handed to ``export-best --checkpoint``)
is refused before anything in it runs.
"""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path
from typing import Any

import torch

from tune_asr.config import TrainConfig
from tune_asr.data.vocab import Vocabulary

CHECKPOINT_FILE = "checkpoint.pt"
REQUIRED_KEYS = ("model", "config", "vocab")  # what inference needs; a resume needs the optimiser's too


class CheckpointError(ValueError):
    """The file is not a readable tune-asr checkpoint; the message names it."""


def vocab_state(vocab: Vocabulary) -> dict[str, Any]:
    return {"symbols": vocab.symbols, "unit": vocab.unit, "frequencies": vocab.frequencies}


def vocab_from_state(state: dict[str, Any]) -> Vocabulary:
    return Vocabulary(state["symbols"], state["unit"], state["frequencies"][:-1])


def save_checkpoint(directory: Path, state: dict[str, Any]) -> Path:
    """Write ``directory/checkpoint.pt`` atomically (a killed run never leaves half a file)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_FILE
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint file, or the checkpoint inside a directory, onto the CPU."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(_refusal(path)) from None
    except (OSError, EOFError, RuntimeError) as error:
        raise CheckpointError(f"{path}: not readable as a checkpoint ({error})") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a tune-asr checkpoint (no {', '.join(missing)})")
    return state


def _refusal(path: Path) -> str:
    """Why the safe loader failed, in our words (never torch's advice to load the file unsafely):
    the file holds Python objects a checkpoint never holds, or it is no checkpoint at all."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)  # reads the pickle, runs nothing
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError):
        unsafe = []  # not a torch.save file: perhaps a plain pickle
    if unsafe or _plain_pickle_with_objects(path):
        what = f"Python objects that a checkpoint never holds ({', '.join(unsafe)})" if unsafe else "more than tensors and plain values"
        return f"{path}: refused to load: the file holds {what}; only checkpoints written by tune-asr are loaded"
    return f"{path}: not readable as a checkpoint (not written by torch.save, or damaged)"


def _plain_pickle_with_objects(path: Path) -> bool:
    """A plain pickle that would import or build objects (what a hostile file does); parsed, never run."""
    try:
        return any(op.name in ("GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE") for op, _, _ in pickletools.genops(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return False


def config_from_checkpoint(state: dict[str, Any]) -> TrainConfig:
    return TrainConfig.from_dict(state["config"])
