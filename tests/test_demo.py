"""The demo corpus must look exactly like NSML data, be reproducible by seed, and fit the vocabulary."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from tests.helpers import KOSPEECH_LABELS, needs_espeak
from tune_asr.data import demo, grammar
from tune_asr.data.vocab import Vocabulary


def read_labels(path: Path) -> list[tuple[str, str]]:
    """Parse an NSML label CSV, checking its header."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["filename", "text"]
        return [(name, text) for name, text in reader]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path, to compare whole corpora."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo.make_demo(tmp_path_factory.mktemp("demo") / "out", 12, seed=0, workers=2, progress=False)


@needs_espeak
def test_layout_and_names(corpus: Path) -> None:
    train = sorted(p.name for p in (corpus / "train" / "train_data").iterdir())
    test = sorted(p.name for p in (corpus / "test" / "test_data").iterdir())
    assert train == [f"idx_{i:06d}" for i in range(12)]
    assert test == [f"test_{i:06d}" for i in range(10)]  # default: 10% but at least 10
    assert (corpus / "train" / "train_label").is_file() and (corpus / "test" / "test_label").is_file()


@needs_espeak
def test_pcm_is_plausible_speech(corpus: Path) -> None:
    for path in corpus.rglob("*_data/*"):
        data = path.read_bytes()
        assert len(data) % 2 == 0, path
        assert 0.3 <= len(data) / 2 / demo.SAMPLE_RATE <= 10.0, path
        assert not data.startswith(b"RIFF"), "must be headerless PCM"


@needs_espeak
@pytest.mark.parametrize("split", ["train", "test"])
def test_labels_match_files(corpus: Path, split: str) -> None:
    labels = read_labels(corpus / split / f"{split}_label")
    files = sorted(p.name for p in (corpus / split / f"{split}_data").iterdir())
    assert [name for name, _ in labels] == files
    sentences = grammar.all_sentences()
    assert all(text in sentences for _, text in labels)


@needs_espeak
def test_same_seed_same_bytes(corpus: Path, tmp_path: Path) -> None:
    again = demo.make_demo(tmp_path / "again", 12, seed=0, workers=1, progress=False)
    assert tree_bytes(again) == tree_bytes(corpus)


@needs_espeak
def test_other_seed_differs(corpus: Path, tmp_path: Path) -> None:
    other = demo.make_demo(tmp_path / "other", 12, seed=1, test_utterances=1, workers=2, progress=False)
    assert read_labels(other / "train" / "train_label") != read_labels(corpus / "train" / "train_label")
    assert tree_bytes(other / "train") != tree_bytes(corpus / "train")


@needs_espeak
def test_refuses_non_empty_directory(corpus: Path) -> None:
    with pytest.raises(FileExistsError, match="not empty"):
        demo.make_demo(corpus, 1, progress=False)


def test_synthesis_failure_names_sentence_and_stderr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "espeak-ng"
    fake.write_text("#!/bin/sh\necho 'voice exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="라디오 켜 줘.*voice exploded"):
        demo.espeak(demo.PlannedUtterance(tmp_path / "x", "라디오 켜 줘.", "m1", 160, 50))


def test_missing_espeak_explains_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng.*brew install espeak-ng"):
        demo.make_demo(tmp_path / "out", 5, progress=False)
    assert not (tmp_path / "out").exists()


def test_grammar_is_large() -> None:
    assert len(grammar.all_sentences()) > 2000


def test_every_character_is_one_the_test_vocabulary_counts_as_used() -> None:
    """Its counted syllables are all in the competition's vocabulary, so demo data trains with that one too."""
    vocab = Vocabulary.read_csv(KOSPEECH_LABELS, "character")
    used = {symbol for symbol, count in zip(vocab.symbols, vocab.frequencies) if count > 0}
    rng = random.Random(0)
    sentences = grammar.all_sentences() | {grammar.sample_sentence(rng) for _ in range(2000)}
    assert [s for s in sentences if set(s) - used] == []


def test_sentences_use_only_hangul_spaces_and_final_punctuation() -> None:
    for sentence in grammar.all_sentences():
        assert sentence[-1] in ".?" and "  " not in sentence and sentence[0] != " "
        assert all("가" <= c <= "힣" or c == " " for c in sentence[:-1]), sentence


def test_numbers_are_spelt_in_hangul() -> None:
    assert [grammar.sino_number(n) for n in (0, 1, 10, 22, 111, 1999)] == [
        "영", "일", "십", "이십이", "백십일", "천구백구십구"
    ]
    assert grammar.decimal_number(225) == "이십이 점 오"
    assert grammar.decimal_number(180) == "십팔"
    assert [grammar.with_ro(w) for w in ("집", "회사", "갓길", "삼")] == ["집으로", "회사로", "갓길로", "삼으로"]
