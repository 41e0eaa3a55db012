from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import KOSPEECH_LABELS, SENTENCES, write_nsml
from tune_asr.config import TrainConfig
from tune_asr.data.audio import read_audio_folder
from tune_asr.data.corpus import DataError, check_corpus, load_corpus

CONFIG = TrainConfig(max_seconds=5.0)


def reasons(corpus) -> dict[str, str]:
    return dict(corpus.report.problems)


def break_files(root: Path) -> None:
    audio = root / "train" / "train_data"
    (audio / "idx_000001").write_bytes(b"\x01\x02\x03")  # odd length
    (audio / "idx_000002").write_bytes(b"")  # empty
    (audio / "idx_000003").unlink()  # label without audio
    np.zeros(16000, dtype="<i2").tofile(audio / "orphan")  # audio without label
    np.zeros(16000 * 6, dtype="<i2").tofile(audio / "idx_000004")  # too long for max_seconds=5


def test_bad_files_are_reported_by_name_and_skipped(nsml_dir: Path) -> None:
    break_files(nsml_dir)
    corpus = load_corpus(nsml_dir, CONFIG)
    found = reasons(corpus)
    assert found["idx_000001"].startswith("bad audio: odd byte length")
    assert found["idx_000002"] == "bad audio: empty file"
    assert found["idx_000003"].startswith("audio missing for label")
    assert found["orphan"] == "audio without a label"
    assert found["idx_000004"].startswith("too long")
    kept = {u.name for u in corpus.train + corpus.val}
    assert len(kept) == 24 - 4 and not kept & set(found)
    assert "idx_000001" in corpus.report.summary()


def test_strict_mode_stops_with_the_list(nsml_dir: Path) -> None:
    break_files(nsml_dir)
    with pytest.raises(DataError, match="idx_000002"):
        load_corpus(nsml_dir, CONFIG, strict=True)


def test_empty_transcript_and_unknown_characters(tmp_path: Path) -> None:
    root = write_nsml(tmp_path / "d", SENTENCES * 2 + ["", "숫자 6 7 9"])
    corpus = load_corpus(root, replace(CONFIG, vocab_path=str(KOSPEECH_LABELS)))
    found = reasons(corpus)
    assert found["idx_000012"].startswith("empty transcript")
    assert found["idx_000013"] == "characters outside the vocabulary: '679'"


def test_split_is_seeded_and_validation_sentences_are_unseen(nsml_dir: Path) -> None:
    first, again = load_corpus(nsml_dir, CONFIG), load_corpus(nsml_dir, CONFIG)
    assert [u.name for u in first.val] == [u.name for u in again.val]
    assert {u.text for u in first.val}.isdisjoint({u.text for u in first.train})
    by_file = load_corpus(nsml_dir, replace(CONFIG, split_by="file"))
    assert len(by_file.val) == round(24 * 0.2)


def test_missing_layout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train_label"):
        load_corpus(tmp_path, CONFIG)


def test_test_folder_reads_every_file_and_reports_unreadable(tmp_path: Path) -> None:
    np.ones(800, dtype="<i2").tofile(tmp_path / "b")
    np.ones(800, dtype="<i2").tofile(tmp_path / "a")
    (tmp_path / "c").write_bytes(b"\x00")
    readable, problems = read_audio_folder(tmp_path)
    assert [name for name, _ in readable] == ["a", "b"]
    assert problems == [("c", "odd byte length (1 bytes): not 16-bit PCM")]


def test_entries_that_are_not_regular_files_are_reported(nsml_dir: Path) -> None:
    audio = nsml_dir / "train" / "train_data"
    (audio / "idx_000001").unlink()
    (audio / "idx_000001").mkdir()  # a labelled folder
    (audio / "subfolder").mkdir()  # an unlabelled one
    (audio / "dangling").symlink_to(audio / "nowhere")
    (audio / "idx_000002").unlink()
    (audio / "idx_000002").symlink_to(audio / "idx_000003")  # a link to a file is a file
    corpus = load_corpus(nsml_dir, CONFIG)
    found = reasons(corpus)
    assert found["idx_000001"] == "not a regular file (a folder)"
    assert found["subfolder"] == "not a regular file (a folder)"
    assert found["dangling"] == "not a regular file (a dangling symbolic link)"
    assert "idx_000002" not in found
    assert sorted(check_corpus(nsml_dir, CONFIG).problems) == sorted(corpus.report.problems)
