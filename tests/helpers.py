"""What several test modules share: small NSML folders, tiny search spaces, a vocabulary file, markers.

Test modules import from here, never from each other, so that each one can be read (and run) alone.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from tune_asr.tracking import TAG_ROLE

# Our own vocabulary in kospeech's labels.csv format (id,char,freq; <pad>, <sos>, <eos>; no <blank>):
# the space, every syllable that the tests' sentences and the demo grammar use (counted over those
# sentences, most frequent first), then unused Hangul syllables with count 0 up to kospeech's 2,000
# symbols, so that a model built on it has the competition's 2,001 outputs. Every counted syllable
# is one of kospeech's; a new demo word must keep it so (test_demo checks the grammar against this file).
KOSPEECH_LABELS = Path(__file__).parent / "data" / "kospeech_labels.csv"
SENTENCES = ["창문 열어 줘.", "에어컨 켜 줘.", "라디오 꺼 줘.", "문 닫아 줘.", "집으로 가자.", "음악 틀어 줘."]
TINY_SEARCH_EPOCHS = 2
# Bounds a hung subprocess or wait only, never the time a run needs: several times what the slowest run
# takes on a 2-core machine loaded by other jobs (a search test: 1-4 min there).
HANG_GUARD_S = 900.0

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the demo corpus needs espeak-ng")


def write_nsml(root: Path, texts: list[str], seconds: float = 0.6, seed: int = 0) -> Path:
    """An NSML folder with noise audio (distinct per file) and the given transcripts."""
    rng = np.random.default_rng(seed)
    audio_dir = root / "train" / "train_data"
    audio_dir.mkdir(parents=True)
    with open(root / "train" / "train_label", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "text"])
        for i, text in enumerate(texts):
            name = f"idx_{i:06d}"
            samples = (rng.standard_normal(int(16000 * seconds)) * 3000).astype("<i2")
            samples.tofile(audio_dir / name)
            writer.writerow([name, text])
    return root


def tiny_space(lr: str, epochs: int, **fixed: str) -> str:
    """A search-space YAML of a model small enough for 2 CPUs, searching only ``lr`` (a YAML value)."""
    lines = ["unit: grapheme", "n_mels: 40", "conv_channels: 4", "rnn_layers: 1", "rnn_hidden: 32", "batch_size: 4",
             "schedule: constant", f"epochs: {epochs}", *(f"{key}: {value}" for key, value in fixed.items()), f"lr: {lr}"]
    return "\n".join(lines) + "\n"


# The searches' space: one learning rate that trains and one that stays at its random initialisation.
SPACE = tiny_space("{choice: [1.0e-2, 1.0e-7]}", epochs=3)


def runs(storage: Path, name: str) -> tuple[list, list]:
    """(parent runs, child runs) of the search ``name``."""
    client = MlflowClient(f"sqlite:///{storage / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    found = client.search_runs([experiment.experiment_id])
    return ([r for r in found if r.data.tags[TAG_ROLE] == "search"], [r for r in found if r.data.tags[TAG_ROLE] == "trial"])


def refuse_ray(*args, **kwargs) -> None:
    """Stands in for ``ray.init`` where bad input must be refused before Ray starts."""
    raise AssertionError("Ray must not start for bad input")


def start_search(args: list[str], env: dict[str, str], num_cpus: int | None) -> subprocess.Popen:
    """``main(args)`` in a subprocess (its own process group) on a fresh ``num_cpus`` Ray (None: ``main``
    decides, e.g. ``--address``)."""
    start = f"init_ray(num_cpus={num_cpus}); " if num_cpus else ""
    code = f"import sys; from tune_asr.search import init_ray, main; {start}sys.exit(main({args!r}))"
    return subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def run_search(args: list[str], env: dict[str, str], num_cpus: int | None = 1,
               timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
    """:func:`start_search`, killed with its process group at ``timeout`` (a hang)."""
    return finish_search(start_search(args, env, num_cpus), timeout)


def finish_search(process: subprocess.Popen, timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
    """Wait for a :func:`start_search` process; killed with its process group at ``timeout`` (a hang)."""
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"search did not finish in {timeout} s:\n{out[-5000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, "")
