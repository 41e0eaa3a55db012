from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import KOSPEECH_LABELS, SENTENCES, write_nsml
from tune_asr.config import TrainConfig
from tune_asr.data.audio import read_audio_folder
from tune_asr.data.corpus import DataError, check_corpus, load_corpus
from tune_asr.data.speakers import read_speakers, speaker_path, write_speakers

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


def _with_speakers(root: Path, count: int, voices: list[str]) -> Path:
    """An NSML folder whose files are spoken in turn by ``voices`` (listed in train/train_speaker)."""
    data = write_nsml(root, [SENTENCES[i % len(SENTENCES)] + f" {i % 7}" for i in range(count)])
    write_speakers(speaker_path(data), [(f"idx_{i:06d}", voices[i % len(voices)]) for i in range(count)])
    return data


def test_speaker_split_holds_out_whole_voices_and_their_sentences(tmp_path: Path) -> None:
    data = _with_speakers(tmp_path / "data", 40, ["f1", "f2", "m1", "m2", "m3"])
    config = TrainConfig(split_by="speaker", val_fraction=0.2)
    corpus = load_corpus(data, config)
    speakers = read_speakers(data)
    held_out = {speakers[u.name] for u in corpus.val}
    assert len(held_out) == 1 and not held_out & {speakers[u.name] for u in corpus.train}
    assert not {u.text for u in corpus.val} & {u.text for u in corpus.train}
    note = f"speakers {held_out.pop()} held out ({len(corpus.val)} utterances)"
    assert note in corpus.report.summary() and note in check_corpus(data, config).summary()  # the driver's report too
    assert [u.name for u in load_corpus(data, config).val] == [u.name for u in corpus.val]  # seeded


def test_speaker_split_reports_a_missing_list_a_bad_line_and_unlisted_files(tmp_path: Path) -> None:
    config = TrainConfig(split_by="speaker")
    plain = write_nsml(tmp_path / "plain", SENTENCES * 2)
    with pytest.raises(DataError, match=r"train_speaker: split_by=speaker needs this file"):
        check_corpus(plain, config)
    data = _with_speakers(tmp_path / "data", 12, ["f1", "m1"])
    path = speaker_path(data)
    path.write_text(path.read_text().replace("idx_000003,m1", "idx_000003"), encoding="utf-8")
    with pytest.raises(DataError, match=r"train_speaker line 5: expected filename,speaker"):
        load_corpus(data, config)
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("idx_000003")) + "\n")
    report = load_corpus(data, config).report
    assert ("idx_000003", f"no speaker in {path}") in report.problems and report.kept == 11
