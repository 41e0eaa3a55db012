"""Shared fixtures: small NSML folders written on the fly (no espeak-ng needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

KOSPEECH_LABELS = Path(__file__).parents[2] / "shared" / "reference" / "kospeech_labels.csv"
SENTENCES = ["창문 열어 줘.", "에어컨 켜 줘.", "라디오 꺼 줘.", "문 닫아 줘.", "집으로 가자.", "음악 틀어 줘."]


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


@pytest.fixture
def nsml_dir(tmp_path: Path) -> Path:
    return write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(24)])


TINY_SEARCH_EPOCHS = 2


@pytest.fixture(scope="session")
def tiny_search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished 3-trial search, ``<root>/storage/tiny``, its demo data at ``<root>/demo``.

    Built once per test session: the results and export tests read the same search.
    """
    import ray

    from tests.test_search import SPACE
    from tune_asr.data.demo import make_demo
    from tune_asr.search import main as search_main

    root = tmp_path_factory.mktemp("tiny_search")
    demo = make_demo(root / "demo", 24, seed=0, test_utterances=6, progress=False)
    space = root / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    ray.init(num_cpus=2, log_to_driver=False)  # main() joins it; 2 CPUs make any runner play alike
    try:
        code = search_main(["--data", str(demo), "--space", str(space), "--trials", "3",
                            "--max-epochs", str(TINY_SEARCH_EPOCHS), "--seed", "0", "--grace-period", "1",
                            "--reduction-factor", "2", "--storage", str(root / "storage"), "--name", "tiny"])
    finally:
        ray.shutdown()
    assert code == 0
    return root / "storage" / "tiny"
